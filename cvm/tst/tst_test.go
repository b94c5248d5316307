package tst

import (
	"bytes"
	"crypto/sha512"
	"crypto/x509"
	"encoding/asn1"
	"math/big"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

func TestEncodeOIDMatchesStdlib(t *testing.T) {
	for _, s := range []string{"1.2.840.113549.1.9.16.1.4", "2.16.840.1.101.3.4.3.18", OIDPQTokenStr, OIDPolicyHybrid, OIDAttestationExt, "2.999.1", "0.0"} {
		got, err := EncodeOID(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		ref, err := x509.ParseOID(s)
		if err != nil {
			t.Fatalf("stdlib %s: %v", s, err)
		}
		want, _ := ref.MarshalBinary()
		if got[0] != 0x06 || int(got[1]) != len(got)-2 || !bytes.Equal(got[2:], want) {
			t.Errorf("%s: got %x, stdlib content %x", s, got, want)
		}
	}
	for _, s := range []string{"", "1", "3.1", "1.40", "1..2", "1.02", "1.a"} {
		if _, err := EncodeOID(s); err == nil {
			t.Errorf("%q accepted", s)
		}
	}
}

func TestGeneralizedTime(t *testing.T) {
	for _, c := range []struct {
		t    time.Time
		want string
	}{
		{time.Date(2026, 11, 21, 6, 7, 8, 0, time.UTC), "20261121060708Z"},
		{time.Date(2026, 11, 21, 6, 7, 8, 120_000_000, time.UTC), "20261121060708.12Z"},
		{time.Date(2026, 11, 21, 6, 7, 8, 123_456_789, time.UTC), "20261121060708.123456Z"},
		{time.Date(2026, 11, 21, 6, 7, 8, 999, time.UTC), "20261121060708Z"},
		{time.Date(2026, 11, 21, 7, 7, 8, 0, time.FixedZone("x", 3600)), "20261121060708Z"},
	} {
		if got := FormatGeneralizedTime(c.t); got != c.want {
			t.Errorf("%v: got %s, want %s", c.t, got, c.want)
		}
	}
}

type accuracy struct {
	Seconds int `asn1:"optional"`
	Millis  int `asn1:"optional,tag:0"`
	Micros  int `asn1:"optional,tag:1"`
}

type imprint struct {
	Alg    asn1.RawValue
	Digest []byte
}

// tstInfo mirrors RFC 3161's TSTInfo for encoding/asn1, an independent
// DER parser.
type tstInfo struct {
	Version  int
	Policy   asn1.RawValue
	Imprint  imprint
	Serial   *big.Int
	GenTime  asn1.RawValue
	Accuracy accuracy
	Nonce    *big.Int      `asn1:"optional"`
	TSA      asn1.RawValue `asn1:"optional,tag:0,explicit"`
}

func TestEncodeTSTInfo(t *testing.T) {
	name, err := EncodeName([][2]string{{"O", "CC-TSA"}, {"CN", "test"}})
	if err != nil {
		t.Fatal(err)
	}
	gen := time.Date(2026, 11, 21, 6, 7, 8, 250_000_000, time.UTC)
	in := &Info{
		Fields: wire.TokenFields{Policy: wire.PolicyHybrid, HashAlg: wire.SHA256, HashParamsNull: true,
			Imprint: bytes.Repeat([]byte{0xab}, 32), Nonce: []byte{0x00, 0xff, 0x01}},
		Proposal: wire.Proposal{Serial: []byte{0x40, 0x01}, GenTimeUnix: gen.Unix(), GenTimeNanos: uint32(gen.Nanosecond()), AccuracyMicros: 1_002_003},
		TSAName:  name,
	}
	der, err := EncodeTSTInfo(in)
	if err != nil {
		t.Fatal(err)
	}
	var got tstInfo
	rest, err := asn1.Unmarshal(der, &got)
	if err != nil || len(rest) != 0 {
		t.Fatalf("encoding/asn1 cannot parse our TSTInfo: %v", err)
	}
	if got.Version != 1 || !bytes.Equal(got.Policy.FullBytes, OIDPolicyHybridDER) {
		t.Errorf("version %d policy %x", got.Version, got.Policy.FullBytes)
	}
	wantAlg := append(append([]byte{0x30, byte(len(OIDSHA256) + 2)}, OIDSHA256...), 0x05, 0x00)
	if !bytes.Equal(got.Imprint.Alg.FullBytes, wantAlg) || !bytes.Equal(got.Imprint.Digest, in.Fields.Imprint) {
		t.Errorf("imprint %x %x", got.Imprint.Alg.FullBytes, got.Imprint.Digest)
	}
	if got.Serial.Cmp(big.NewInt(0x4001)) != 0 || got.Nonce.Cmp(big.NewInt(0xff01)) != 0 {
		t.Errorf("serial %v nonce %v", got.Serial, got.Nonce)
	}
	if string(got.GenTime.Bytes) != "20261121060708.25Z" || got.GenTime.Tag != asn1.TagGeneralizedTime {
		t.Errorf("genTime %q", got.GenTime.Bytes)
	}
	if got.Accuracy != (accuracy{1, 2, 3}) {
		t.Errorf("accuracy %+v", got.Accuracy)
	}
	if !bytes.Equal(got.TSA.Bytes[2:], name) && !bytes.Equal(got.TSA.Bytes[3:], name) {
		t.Errorf("tsa %x does not hold the name", got.TSA.Bytes)
	}

	// Without a nonce and with absent parameters the fields disappear.
	in.Fields.Nonce, in.Fields.HashParamsNull = nil, false
	der2, _ := EncodeTSTInfo(in)
	var got2 tstInfo
	if _, err := asn1.Unmarshal(der2, &got2); err != nil || got2.Nonce != nil {
		t.Fatalf("nonce present: %v %v", got2.Nonce, err)
	}
	if bytes.Contains(der2, []byte{0x05, 0x00}) {
		t.Error("NULL parameters written although absent in the request")
	}
	// Invalid inputs are refused.
	bad := *in
	bad.Fields.Imprint = bad.Fields.Imprint[:31]
	if _, err := EncodeTSTInfo(&bad); err == nil {
		t.Error("short imprint encoded")
	}
	bad = *in
	bad.TSAName = []byte{0x30, 0x05}
	if _, err := EncodeTSTInfo(&bad); err == nil {
		t.Error("malformed name encoded")
	}
}

func TestSignedAttrs(t *testing.T) {
	cert := &CertRef{Certificate: []byte{0x30, 0x01, 0x00}, Issuer: []byte{0x30, 0x00}, Serial: []byte{0x05}}
	tstInfo := []byte{0x30, 0x00}
	attrs, err := MLDSASignedAttrs(tstInfo, cert)
	if err != nil {
		t.Fatal(err)
	}
	var set []asn1.RawValue
	if _, err := asn1.UnmarshalWithParams(attrs, &set, "set"); err != nil {
		t.Fatal(err)
	}
	if len(set) != 4 {
		t.Fatalf("%d attributes", len(set))
	}
	for i := 1; i < len(set); i++ {
		if bytes.Compare(set[i-1].FullBytes, set[i].FullBytes) > 0 {
			t.Fatal("attributes not in DER SET order")
		}
	}
	d := sha512.Sum512(tstInfo)
	if !bytes.Contains(attrs, d[:]) {
		t.Error("messageDigest is not SHA-512 of the TSTInfo")
	}
	inner := []byte{0x30, 0x03, 0x02, 0x01, 0x01}
	outer, err := ECDSASignedAttrs(tstInfo, inner, cert)
	if err != nil {
		t.Fatal(err)
	}
	h := sha512.Sum512(inner)
	if !bytes.Contains(outer, h[:]) || !bytes.Contains(outer, OIDPQTokenHash) {
		t.Error("outer attributes do not bind the inner token")
	}
	if _, err := MLDSASignedAttrs(tstInfo, &CertRef{Certificate: []byte{1}, Issuer: []byte{0x30, 0}, Serial: []byte{1}}); err == nil {
		t.Error("malformed certificate accepted")
	}
}
