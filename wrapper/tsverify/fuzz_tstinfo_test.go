package tsverify_test

import (
	"bytes"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify/tsverifytest"
	"golang.org/x/crypto/cryptobyte"
)

// FuzzParseTSTInfo: the parser never panics, and what it accepts has a
// genTime whose DER encoding is in the input and a tsa of exactly one
// context-specific GeneralName.
func FuzzParseTSTInfo(f *testing.F) {
	m, err := tsverifytest.New(tsverifytest.Config{})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []tsverifytest.Spec{
		{}, {OmitTSAName: true}, {Policy: tst.OIDPolicyMLDSA},
		{TSAName: []byte{0x82, 0x03, 'a', '.', 'b'}},
		{GenTime: "20260102030405.+5Z"}, {GenTime: "20260102030405.50Z"}, {GenTime: "20260102030405.Z"},
		{GenTime: "20260102030405.123456Z"},
	} {
		info, err := m.TSTInfo(&s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(info)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		info, err := tsverify.ParseTSTInfo(der)
		if err != nil {
			return
		}
		if !bytes.Contains(der, []byte(tst.FormatGeneralizedTime(info.GenTime))) && info.GenTime.Nanosecond()%1000 == 0 {
			t.Fatalf("genTime %v not DER-encoded in the input", info.GenTime)
		}
		if info.TSAName != nil {
			s := cryptobyte.String(info.TSAName)
			var e cryptobyte.String
			if !s.ReadAnyASN1Element(&e, nil) || !s.Empty() || info.TSAName[0]&0xc0 != 0x80 {
				t.Fatalf("tsa %x is not one GeneralName", info.TSAName)
			}
		}
	})
}
