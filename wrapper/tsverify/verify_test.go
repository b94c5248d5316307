package tsverify_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"io"
	"net/http"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
	"github.com/cc-tsa/cc-tsa/wrapper/rfc3161"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

func issue(t *testing.T, s *testtsa.TSA, policy string, certReq bool) (token, data []byte) {
	t.Helper()
	data = make([]byte, 64)
	rand.Read(data)
	d := sha512.Sum512(data)
	q, err := rfc3161.EncodeRequest(&rfc3161.Request{HashAlg: wire.SHA512, Imprint: d[:], CertReq: certReq}, policy)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(s.HTTP.URL, "application/timestamp-query", bytes.NewReader(q))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	token, err = tsverify.ParseResponse(body)
	if err != nil {
		t.Fatal(err)
	}
	return token, data
}

// node is a DER element for test-only rewriting of tokens.
type node struct {
	tag      byte
	content  []byte
	children []*node
}

func parse(t *testing.T, b []byte) (*node, []byte) {
	t.Helper()
	tag, l := b[0], int(b[1])
	hdr := 2
	if l&0x80 != 0 {
		n := l & 0x7f
		l = 0
		for i := 0; i < n; i++ {
			l = l<<8 | int(b[2+i])
		}
		hdr += n
	}
	n := &node{tag: tag, content: b[hdr : hdr+l]}
	if tag&0x20 != 0 {
		rest := n.content
		for len(rest) > 0 {
			var c *node
			c, rest = parse(t, rest)
			n.children = append(n.children, c)
		}
	}
	return n, b[hdr+l:]
}

func (n *node) encode() []byte {
	content := n.content
	if n.tag&0x20 != 0 {
		content = nil
		for _, c := range n.children {
			content = append(content, c.encode()...)
		}
	}
	l := len(content)
	var hdr []byte
	switch {
	case l < 128:
		hdr = []byte{n.tag, byte(l)}
	case l < 256:
		hdr = []byte{n.tag, 0x81, byte(l)}
	case l < 65536:
		hdr = []byte{n.tag, 0x82, byte(l >> 8), byte(l)}
	default:
		hdr = []byte{n.tag, 0x83, byte(l >> 16), byte(l >> 8), byte(l)}
	}
	return append(hdr, content...)
}

// signerInfo returns the SignerInfo node of a ContentInfo tree.
func signerInfo(ci *node) *node {
	sd := ci.children[1].children[0]
	return sd.children[len(sd.children)-1].children[0]
}

func TestStrippedOrSwappedPQTokenDetected(t *testing.T) {
	s := testtsa.Start(t)
	tok, data := issue(t, s, "", true)
	opts := s.Options()
	opts.Data = data
	if _, err := tsverify.VerifyToken(tok, opts); err != nil {
		t.Fatal(err)
	}
	// Strip the unsigned attributes: the ECDSA signature still holds, but
	// the bound hash names a token that is gone.
	ci, _ := parse(t, tok)
	si := signerInfo(ci)
	if si.children[len(si.children)-1].tag != 0xa1 {
		t.Fatal("no unsigned attributes found")
	}
	si.children = si.children[:len(si.children)-1]
	if _, err := tsverify.VerifyToken(ci.encode(), opts); err == nil {
		t.Fatal("stripped ML-DSA token not detected")
	}
	// Swap in the inner token of another issuance.
	other, _ := issue(t, s, "", true)
	oci, _ := parse(t, other)
	ci, _ = parse(t, tok)
	si = signerInfo(ci)
	si.children[len(si.children)-1] = signerInfo(oci).children[len(signerInfo(oci).children)-1]
	if _, err := tsverify.VerifyToken(ci.encode(), opts); err == nil {
		t.Fatal("swapped ML-DSA token not detected")
	}
	// The inner token alone lacks the ECDSA half of its hybrid policy: it
	// is accepted only with the explicit PQOnly opt-out.
	res, err := tsverify.VerifyToken(tok, opts)
	if err != nil || len(res.InnerToken) == 0 {
		t.Fatal(err)
	}
	if _, err := tsverify.VerifyToken(res.InnerToken, opts); !errors.Is(err, tsverify.ErrMissingClassical) {
		t.Fatalf("inner token alone, defaults: %v", err)
	}
	opts.PQOnly = true
	if r, err := tsverify.VerifyToken(res.InnerToken, opts); err != nil || !r.MLDSA || r.ECDSA || !r.PQOnly {
		t.Fatalf("inner token alone with PQOnly: %v", err)
	}
}

func TestEveryByteMatters(t *testing.T) {
	s := testtsa.Start(t)
	for _, policy := range []string{"", tst.OIDPolicyMLDSA} {
		tok, data := issue(t, s, policy, true)
		// The token must stand on its own: no certificates from elsewhere,
		// so that the certificates it carries are checked too.
		opts := s.Options()
		opts.Data, opts.Certs = data, nil
		if _, err := tsverify.VerifyToken(tok, opts); err != nil {
			t.Fatal(err)
		}
		step := 5
		if testing.Short() {
			step = 53
		}
		for i := 0; i < len(tok); i += step {
			bad := bytes.Clone(tok)
			bad[i] ^= 0x01
			if _, err := tsverify.VerifyToken(bad, opts); err == nil {
				t.Fatalf("policy %q: flipping a bit of byte %d of %d went unnoticed", policy, i, len(tok))
			}
		}
	}
}

func TestWrongTrustAnchorsAndData(t *testing.T) {
	s := testtsa.Start(t)
	other := testtsa.Start(t)
	tok, data := issue(t, s, "", true)
	opts := other.Options()
	opts.Data = data
	if _, err := tsverify.VerifyToken(tok, opts); err == nil {
		t.Fatal("token verified under another TSA's roots")
	}
	opts = s.Options()
	opts.Data = append(bytes.Clone(data), 1)
	if _, err := tsverify.VerifyToken(tok, opts); err == nil {
		t.Fatal("token verified for other data")
	}
	opts = s.Options()
	opts.Roots = opts.Roots[:1] // ECDSA root only
	if _, err := tsverify.VerifyToken(tok, opts); err == nil {
		t.Fatal("ML-DSA chain accepted without an ML-DSA trust anchor")
	}
}

func FuzzVerifyResponse(f *testing.F) {
	s := testtsa.Start(f)
	for _, p := range []string{"", tst.OIDPolicyMLDSA} {
		d := sha512.Sum512(nil)
		q, _ := rfc3161.EncodeRequest(&rfc3161.Request{HashAlg: wire.SHA512, Imprint: d[:], CertReq: true}, p)
		resp, err := http.Post(s.HTTP.URL, "application/timestamp-query", bytes.NewReader(q))
		if err != nil {
			f.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		f.Add(body)
	}
	f.Add(rfc3161.Rejection(&rfc3161.Refusal{Info: rfc3161.BadAlg, Reason: "x"}))
	opts := s.Options()
	f.Fuzz(func(t *testing.T, der []byte) {
		tsverify.VerifyResponse(der, opts)
		tsverify.ParseResponse(der)
		tsverify.TokenInfo(der)
	})
}
