package rfc3161

import (
	"bytes"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// FuzzParseRequest checks that the parser never panics, that every refusal
// encodes, and that whatever it accepts re-encodes to the same DER.
func FuzzParseRequest(f *testing.F) {
	f.Add(enc(f, &Request{HashAlg: wire.SHA256, Imprint: make([]byte, 32)}, ""))
	f.Add(enc(f, &Request{HashAlg: wire.SHA512, HashParamsNull: true, Imprint: make([]byte, 64), Nonce: []byte{0x01, 0x02}, CertReq: true}, tst.OIDPolicyHybrid))
	f.Add(enc(f, &Request{HashAlg: wire.SHA3_384, Imprint: make([]byte, 48), Nonce: []byte{0x00, 0x80}}, tst.OIDPolicyMLDSA))
	f.Fuzz(func(t *testing.T, der []byte) {
		r, ref := ParseRequest(der)
		if ref != nil {
			if r != nil {
				t.Fatal("both a request and a refusal")
			}
			if len(Rejection(ref)) == 0 {
				t.Fatal("refusal does not encode")
			}
			return
		}
		var pol string
		switch r.Policy {
		case wire.PolicyHybrid:
			pol = tst.OIDPolicyHybrid
		case wire.PolicyMLDSA:
			pol = tst.OIDPolicyMLDSA
		}
		again, err := EncodeRequest(r, pol)
		if err != nil {
			t.Fatalf("accepted request does not re-encode: %v", err)
		}
		if !bytes.Equal(again, der) {
			t.Fatalf("accepted non-canonical DER:\n in  %x\n out %x", der, again)
		}
	})
}
