package rfc3161

import (
	"bytes"
	"encoding/hex"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func enc(t testing.TB, r *Request, policy string) []byte {
	b, err := EncodeRequest(r, policy)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tlv encodes one DER element with a short or long length.
func tlv(tag byte, content []byte) []byte {
	n := len(content)
	switch {
	case n < 128:
		return append([]byte{tag, byte(n)}, content...)
	case n < 256:
		return append([]byte{tag, 0x81, byte(n)}, content...)
	}
	return append([]byte{tag, 0x82, byte(n >> 8), byte(n)}, content...)
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func imprintWith(algOID []byte, params []byte, digest []byte) []byte {
	return tlv(0x30, cat(tlv(0x30, cat(algOID, params)), tlv(0x04, digest)))
}

func reqWith(fields ...[]byte) []byte { return tlv(0x30, cat(fields...)) }

func TestParseGood(t *testing.T) {
	for _, h := range []wire.HashAlg{wire.SHA256, wire.SHA384, wire.SHA512, wire.SHA3_256, wire.SHA3_384, wire.SHA3_512} {
		for _, null := range []bool{false, true} {
			in := &Request{HashAlg: h, HashParamsNull: null, Imprint: bytes.Repeat([]byte{1}, h.Size()), Nonce: []byte{0x00, 0x80}, CertReq: true}
			r, ref := ParseRequest(enc(t, in, tst.OIDPolicyMLDSA))
			if ref != nil {
				t.Fatalf("%v: %v", h, ref)
			}
			if r.HashAlg != h || r.HashParamsNull != null || !bytes.Equal(r.Imprint, in.Imprint) || !bytes.Equal(r.Nonce, in.Nonce) || !r.CertReq || r.Policy != wire.PolicyMLDSA {
				t.Fatalf("%v: parsed %+v", h, r)
			}
		}
	}
	r, ref := ParseRequest(enc(t, &Request{HashAlg: wire.SHA256, Imprint: make([]byte, 32)}, ""))
	if ref != nil || r.Policy != 0 || r.Nonce != nil || r.CertReq {
		t.Fatalf("minimal request: %+v %v", r, ref)
	}
}

func TestParseRefusals(t *testing.T) {
	v1 := tlv(0x02, []byte{1})
	sha256 := mustOID("2.16.840.1.101.3.4.2.1")
	good := imprintWith(sha256, nil, make([]byte, 32))
	for _, c := range []struct {
		name string
		der  []byte
		want FailureInfo
	}{
		{"empty", nil, BadDataFormat},
		{"garbage", []byte("hello, TSA"), BadDataFormat},
		{"trailing bytes", append(reqWith(v1, good), 0), BadDataFormat},
		{"version 2", reqWith(tlv(0x02, []byte{2}), good), BadDataFormat},
		{"version as BER long form", reqWith([]byte{0x02, 0x81, 0x01, 0x01}, good), BadDataFormat},
		{"indefinite length", cat([]byte{0x30, 0x80}, v1, good, []byte{0, 0}), BadDataFormat},
		{"SHA-1", reqWith(v1, imprintWith(mustOID("1.3.14.3.2.26"), []byte{5, 0}, make([]byte, 20))), BadAlg},
		{"MD5", reqWith(v1, imprintWith(mustOID("1.2.840.113549.2.5"), []byte{5, 0}, make([]byte, 16))), BadAlg},
		{"unknown hash", reqWith(v1, imprintWith(mustOID("1.2.3.4"), nil, make([]byte, 32))), BadAlg},
		{"hash params not NULL", reqWith(v1, imprintWith(sha256, []byte{0x02, 0x01, 0x00}, make([]byte, 32))), BadAlg},
		{"short imprint", reqWith(v1, imprintWith(sha256, nil, make([]byte, 31))), BadDataFormat},
		{"long imprint", reqWith(v1, imprintWith(sha256, nil, make([]byte, 64))), BadDataFormat},
		{"unknown policy", reqWith(v1, good, mustOID("1.2.3.4.5")), UnacceptedPolicy},
		{"bad policy OID", reqWith(v1, good, []byte{0x06, 0x02, 0x2a, 0x80}), BadDataFormat},
		{"negative nonce", reqWith(v1, good, tlv(0x02, []byte{0x80})), BadRequest},
		{"nonce over 160 bits", reqWith(v1, good, tlv(0x02, bytes.Repeat([]byte{0x7f}, 21))), BadRequest},
		{"non-minimal nonce", reqWith(v1, good, tlv(0x02, []byte{0x00, 0x01})), BadDataFormat},
		{"certReq FALSE explicit", reqWith(v1, good, tlv(0x01, []byte{0x00})), BadDataFormat},
		{"certReq BER true", reqWith(v1, good, tlv(0x01, []byte{0x01})), BadDataFormat},
		{"critical extension", reqWith(v1, good, tlv(0xa0, tlv(0x30, cat(mustOID("1.2.3"), tlv(0x01, []byte{0xff}), tlv(0x04, nil))))), UnacceptedExtension},
		{"non-critical extension", reqWith(v1, good, tlv(0xa0, tlv(0x30, cat(mustOID("1.2.3"), tlv(0x04, []byte{1}))))), UnacceptedExtension},
		{"empty extensions", reqWith(v1, good, tlv(0xa0, nil)), BadDataFormat},
		{"fields out of order", reqWith(v1, good, tlv(0x01, []byte{0xff}), tlv(0x02, []byte{1})), BadDataFormat},
		{"oversized", make([]byte, MaxRequestSize+1), BadDataFormat},
	} {
		t.Run(c.name, func(t *testing.T) {
			r, ref := ParseRequest(c.der)
			if ref == nil {
				t.Fatalf("accepted: %+v", r)
			}
			if ref.Info != c.want {
				t.Fatalf("failInfo %v, want %v (%s)", ref.Info, c.want, ref.Reason)
			}
			resp := Rejection(ref)
			if len(resp) == 0 {
				t.Fatal("empty rejection")
			}
		})
	}
}

// TestOpenSSLRequests parses requests made by `openssl ts -query`.
func TestOpenSSLRequests(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := exec.Command("sh", "-c", "printf hello > "+data).Run(); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"-sha256"}, {"-sha384", "-cert"}, {"-sha512", "-no_nonce"}, {"-sha512", "-cert", "-tspolicy", tst.OIDPolicyMLDSA}} {
		out := filepath.Join(dir, "q.tsq")
		cmd := exec.Command("openssl", append(append([]string{"ts", "-query", "-data", data}, args...), "-out", out)...)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, b)
		}
		der, err := exec.Command("cat", out).Output()
		if err != nil {
			t.Fatal(err)
		}
		r, ref := ParseRequest(der)
		if ref != nil {
			t.Fatalf("openssl %v: refused: %v", args, ref)
		}
		if len(r.Imprint) != r.HashAlg.Size() {
			t.Fatalf("openssl %v: %+v", args, r)
		}
	}
}

func TestFailureBits(t *testing.T) {
	for _, c := range []struct {
		bit  FailureInfo
		want string
	}{
		{BadAlg, "0780"}, {BadRequest, "0520"}, {BadDataFormat, "0204"},
		{TimeNotAvailable, "010002"}, {UnacceptedPolicy, "000001"}, {UnacceptedExtension, "07000080"}, {SystemFailure, "0600000040"},
	} {
		if got := hex.EncodeToString(failureBits(c.bit)); got != c.want {
			t.Errorf("%v: %s, want %s", c.bit, got, c.want)
		}
	}
}
