package e2e

import (
	"bytes"
	encasn1 "encoding/asn1"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"
)

// TestOIDCodec checks the tests' own OID encoder against encoding/asn1
// (small arcs) and round-trips the project's OIDs and a 128-bit UUID arc.
func TestOIDCodec(t *testing.T) {
	for _, c := range []struct {
		dotted string
		oid    encasn1.ObjectIdentifier
	}{
		{oidSHA1, encasn1.ObjectIdentifier{1, 3, 14, 3, 2, 26}},
		{oidSHA384, encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}},
		{oidMLDSA65, encasn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 18}},
		{"2.999.3", encasn1.ObjectIdentifier{2, 999, 3}},
	} {
		full, err := encasn1.Marshal(c.oid)
		if err != nil {
			t.Fatal(err)
		}
		if got := encodeOID(c.dotted); !bytes.Equal(got, full[2:]) {
			t.Errorf("encodeOID(%s) = %x, encoding/asn1 says %x", c.dotted, got, full[2:])
		}
		if back, err := decodeOID(full[2:]); err != nil || back != c.dotted {
			t.Errorf("decodeOID(%x) = %q, %v; want %s", full[2:], back, err, c.dotted)
		}
	}
	for _, o := range []string{policyHybrid, policyMLDSA, oidPQToken, "2.25.221555338817715202692456338154411319803.2.1"} {
		if back, err := decodeOID(encodeOID(o)); err != nil || back != o {
			t.Errorf("round trip of %s gave %q, %v", o, back, err)
		}
	}
	for _, bad := range [][]byte{nil, {0x2a, 0x86}, {0x2a, 0x80, 0x01}} {
		if _, err := decodeOID(bad); err == nil {
			t.Errorf("decodeOID(%x) accepted", bad)
		}
	}
}

// TestGeneralizedTime checks the tests' genTime parser.
func TestGeneralizedTime(t *testing.T) {
	got, err := parseGeneralizedTime("20261121062337.292202Z")
	if want := time.Date(2026, 11, 21, 6, 23, 37, 292202000, time.UTC); err != nil || !got.Equal(want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	if got, err := parseGeneralizedTime("20261121062337Z"); err != nil || got.Nanosecond() != 0 {
		t.Fatalf("whole seconds: %v, %v", got, err)
	}
	for _, bad := range []string{"20261121062337.290Z", "20261121062337.Z", "202611210623Z", "20261121062337+0100", "20261121062337"} {
		if _, err := parseGeneralizedTime(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestSpliceDER checks the tests' DER splicer: a nested element replaced by
// a longer one (short to long length form), enclosing lengths re-encoded.
func TestSpliceDER(t *testing.T) {
	build := func(payload []byte) []byte {
		var b cryptobyte.Builder
		b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
			b.AddASN1(cbasn1.SEQUENCE, func(b *cryptobyte.Builder) {
				b.AddASN1Int64(1)
				b.AddASN1OctetString(payload)
			})
			b.AddASN1Int64(2)
		})
		return b.BytesOrPanic()
	}
	octet := func(p []byte) []byte {
		var b cryptobyte.Builder
		b.AddASN1OctetString(p)
		return b.BytesOrPanic()
	}
	short, long := bytes.Repeat([]byte{7}, 5), bytes.Repeat([]byte{9}, 300)
	got, ok := spliceDER(build(short), octet(short), octet(long))
	if !ok || !bytes.Equal(got, build(long)) {
		t.Fatalf("spliceDER = %x, %v; want %x", got, ok, build(long))
	}
	if _, ok := spliceDER(build(short), octet([]byte{1}), octet(long)); ok {
		t.Fatal("spliceDER replaced an element that is not there")
	}
}
