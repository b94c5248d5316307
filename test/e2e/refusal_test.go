package e2e

import (
	"bytes"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha3"
	"io"
	"math/big"
	mrand "math/rand/v2"
	"net/http"
	"strings"
	"testing"
)

// goodReq returns a valid SHA-256 request with a nonce and certReq.
func goodReq() tsReq {
	d := sha256.Sum256([]byte("CC-TSA e2e refusal tests"))
	yes := true
	return tsReq{version: 1, hashOID: oidSHA256, imprint: d[:], nonce: big.NewInt(0x1234_5678_9abc), certReq: &yes}
}

// TestRefusals sends hostile, malformed and unacceptable requests and
// checks the exact HTTP status and, for HTTP 200, a rejection TimeStampResp
// with exactly the expected failInfo bit. The TSA must never answer 5xx
// and must keep serving.
func TestRefusals(t *testing.T) { forEachMode(t, testRefusals) }

func testRefusals(t *testing.T, srv *devServer) {
	no := false
	sha1d := sha1.Sum([]byte("x"))
	md5d := md5.Sum([]byte("x"))
	with := func(f func(r *tsReq)) []byte {
		r := goodReq()
		f(&r)
		return r.der()
	}
	good := goodReq().der()
	// indefinite re-encodes the outer SEQUENCE of der with BER indefinite
	// length (0x80 … 0x00 0x00).
	indefinite := func(der []byte) []byte {
		hdr := 2
		if der[1]&0x80 != 0 {
			hdr += int(der[1] & 0x7f)
		}
		out := append([]byte{0x30, 0x80}, der[hdr:]...)
		return append(out, 0, 0)
	}
	// longLength re-encodes the outer length in a non-minimal long form.
	longLength := func(der []byte) []byte {
		if der[1]&0x80 != 0 {
			panic("test request too long")
		}
		return append([]byte{0x30, 0x81, der[1]}, der[2:]...)
	}
	rng := mrand.New(mrand.NewChaCha8([32]byte{'c', 'c', '-', 't', 's', 'a'}))
	random := make([]byte, 512)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	random[0] = 0x04 // never a SEQUENCE, whatever the seed

	const tsq = "application/timestamp-query"
	cases := []struct {
		name        string
		method      string
		path        string
		contentType string
		body        []byte
		wantHTTP    int
		wantFail    int  // failInfo bit for HTTP 200 rejections; -1 for granted
		chunked     bool // send without Content-Length
	}{
		{"SHA-1 imprint", "POST", "/", tsq, with(func(r *tsReq) { r.hashOID, r.imprint = oidSHA1, sha1d[:] }), 200, badAlg, false},
		{"MD5 imprint", "POST", "/", tsq, with(func(r *tsReq) { r.hashOID, r.imprint = oidMD5, md5d[:] }), 200, badAlg, false},
		{"unknown hash OID", "POST", "/", tsq, with(func(r *tsReq) { r.hashOID = "1.2.3.4.5" }), 200, badAlg, false},
		{"SHA-256 with non-NULL parameters", "POST", "/", tsq, with(func(r *tsReq) { r.hashParams = []byte{0x02, 0x01, 0x00} }), 200, badAlg, false},
		{"SHA-256 imprint of 20 bytes", "POST", "/", tsq, with(func(r *tsReq) { r.imprint = r.imprint[:20] }), 200, badDataFormat, false},
		{"SHA-256 imprint of 33 bytes", "POST", "/", tsq, with(func(r *tsReq) { r.imprint = append(r.imprint, 0) }), 200, badDataFormat, false},
		{"unknown policy", "POST", "/", tsq, with(func(r *tsReq) { r.policy = "1.3.6.1.4.1.99999.2.1" }), 200, unacceptedPolicy, false},
		{"policy under the project arc but unknown", "POST", "/", tsq, with(func(r *tsReq) { r.policy = ccArc + ".2.3" }), 200, unacceptedPolicy, false},
		{"request extension", "POST", "/", tsq, with(func(r *tsReq) { r.extension = true }), 200, unacceptedExtension, false},
		{"version 2", "POST", "/", tsq, with(func(r *tsReq) { r.version = 2 }), 200, badDataFormat, false},
		{"version 0", "POST", "/", tsq, with(func(r *tsReq) { r.version = 0 }), 200, badDataFormat, false},
		{"explicit certReq FALSE (not DER)", "POST", "/", tsq, with(func(r *tsReq) { r.certReq = &no }), 200, badDataFormat, false},
		{"negative nonce", "POST", "/", tsq, with(func(r *tsReq) { r.nonce = big.NewInt(-5) }), 200, badRequest, false},
		{"nonce of 161 bits", "POST", "/", tsq, with(func(r *tsReq) { r.nonce = new(big.Int).Lsh(big.NewInt(1), 160) }), 200, badRequest, false},
		{"trailing garbage", "POST", "/", tsq, append(bytes.Clone(good), 0x00), 200, badDataFormat, false},
		{"BER indefinite length", "POST", "/", tsq, indefinite(good), 200, badDataFormat, false},
		{"non-minimal length", "POST", "/", tsq, longLength(good), 200, badDataFormat, false},
		{"truncated", "POST", "/", tsq, good[:len(good)-1], 200, badDataFormat, false},
		{"empty body", "POST", "/", tsq, nil, 200, badDataFormat, false},
		{"random bytes", "POST", "/", tsq, random, 200, badDataFormat, false},
		{"70 KiB body", "POST", "/", tsq, append(bytes.Clone(good), make([]byte, 70<<10)...), 413, 0, false},
		{"70 KiB body, chunked", "POST", "/", tsq, append(bytes.Clone(good), make([]byte, 70<<10)...), 413, 0, true},
		{"good request, chunked", "POST", "/", tsq, good, 200, -1, true},
		{"Content-Type with a parameter", "POST", "/", tsq + "; charset=binary", good, 200, -1, false},
		{"HEAD", "HEAD", "/", "", nil, 405, 0, false},
		{"POST to another path", "POST", "/timestamp", tsq, good, 404, 0, false},
		{"wrong content type", "POST", "/", "application/octet-stream", good, 415, 0, false},
		{"no content type", "POST", "/", "", good, 415, 0, false},
		{"GET", "GET", "/", "", nil, 405, 0, false},
		{"PUT", "PUT", "/", tsq, good, 405, 0, false},
		{"GET /tsa", "GET", "/tsa", "", nil, 405, 0, false},
		// Controls: the same request builder makes requests that are granted.
		{"control: good SHA-256 request", "POST", "/", tsq, good, 200, -1, false},
		{"control: SHA-256 with NULL parameters", "POST", "/", tsq, with(func(r *tsReq) { r.hashParams = []byte{0x05, 0x00} }), 200, -1, false},
		{"control: SHA3-256", "POST", "/", tsq, with(func(r *tsReq) { d := sha3.Sum256([]byte("x")); r.hashOID, r.imprint = oidSHA3_256, d[:] }), 200, -1, false},
		{"control: hybrid policy given explicitly, no nonce", "POST", "/", tsq, with(func(r *tsReq) { r.policy, r.nonce = policyHybrid, nil }), 200, -1, false},
		{"control: ML-DSA-only policy", "POST", "/", tsq, with(func(r *tsReq) { r.policy = policyMLDSA }), 200, -1, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var code int
			var body []byte
			var ct string
			if tc.chunked {
				code, body, ct = postChunked(t, srv, tc.path, tc.contentType, tc.body)
			} else {
				code, body, ct = post(t, srv, tc.method, tc.path, tc.contentType, tc.body)
			}
			if code >= 500 {
				t.Fatalf("HTTP %d (server error): %s", code, body)
			}
			if code != tc.wantHTTP {
				t.Fatalf("HTTP %d, want %d: %q", code, tc.wantHTTP, body[:min(len(body), 200)])
			}
			if code != http.StatusOK {
				if tc.wantHTTP == http.StatusMethodNotAllowed && !strings.Contains(ct, "text/plain") {
					t.Errorf("405 answer Content-Type %q", ct)
				}
				return
			}
			if ct != "application/timestamp-reply" {
				t.Fatalf("Content-Type %q, want application/timestamp-reply", ct)
			}
			r, err := parseResp(body)
			if err != nil {
				t.Fatalf("parsing TimeStampResp: %v (%x)", err, body)
			}
			if tc.wantFail == -1 {
				if r.status != 0 || r.token == nil {
					t.Fatalf("status %d, failInfo %v, text %q; want granted", r.status, r.failInfo, r.statusText)
				}
				return
			}
			if r.status != 2 {
				t.Fatalf("status %d, want rejection (2)", r.status)
			}
			if r.token != nil {
				t.Fatalf("a rejection carries a token")
			}
			if !r.hasFail || len(r.failInfo) != 1 || r.failInfo[0] != tc.wantFail {
				t.Fatalf("failInfo bits %v, want exactly %s (%d); statusString %q", r.failInfo, failNames[tc.wantFail], tc.wantFail, r.statusText)
			}
			if len(r.statusText) == 0 || r.statusText[0] == "" {
				t.Errorf("rejection without a statusString")
			}
			t.Logf("%s: %q", failNames[tc.wantFail], r.statusText)
		})
	}

	// After all of that the TSA still serves a good request.
	resp := timestamp(t, srv, goodReq().der())
	sd, err := parseToken(granted(t, resp).token)
	if err != nil {
		t.Fatal(err)
	}
	if sd.sigAlg != oidECDSA384 {
		t.Fatalf("token after the refusals signed with %s", sd.sigAlg)
	}
}

// postChunked POSTs body with chunked transfer encoding (no
// Content-Length), the way a streaming client sends it.
func postChunked(t *testing.T, srv *devServer, path, contentType string, body []byte) (int, []byte, string) {
	t.Helper()
	req, err := http.NewRequest("POST", strings.TrimSuffix(srv.url, "/")+path, io.MultiReader(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	// A body of unknown length: net/http sends it chunked.
	if req.ContentLength != 0 {
		t.Fatalf("request has Content-Length %d", req.ContentLength)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header.Get("Content-Type")
}
