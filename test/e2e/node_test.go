package e2e

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// nodeVerifier returns node and the path of test/js/verify-token.mjs,
// failing the test if node or the npm modules are missing (CI installs
// them with `npm ci`) unless CC_TSA_SKIP_NODE=1.
func nodeVerifier(t *testing.T) (node, script string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CC_TSA_SKIP_NODE") == "1" {
			t.Skipf("CC_TSA_SKIP_NODE=1: "+format, args...)
		}
		t.Fatalf(format+" (run `npm ci` in test/js, or set CC_TSA_SKIP_NODE=1)", args...)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node is not installed: %v", err)
	}
	js, err := filepath.Abs(filepath.Join("..", "js"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"@noble/post-quantum", "asn1js"} {
		if _, err := os.Stat(filepath.Join(js, "node_modules", m, "package.json")); err != nil {
			missing("npm module %s is not installed in %s", m, js)
		}
	}
	return node, filepath.Join(js, "verify-token.mjs")
}

// TestNodeVerifier has an independent verifier (asn1js, @noble/post-quantum,
// node:crypto) check hybrid tokens with and without certificates and
// ML-DSA-only tokens, and reject tampered ones.
func TestNodeVerifier(t *testing.T) {
	nodeVerifier(t)
	forEachMode(t, testNodeVerifier)
}

func testNodeVerifier(t *testing.T, srv *devServer) {
	node, script := nodeVerifier(t)
	ca, tsaECDSA, tsaMLDSA := srv.file("ca.pem"), srv.file("tsa-ecdsa.pem"), srv.file("tsa-mldsa.pem")

	// issue gets a token for data with `cc-tsa request`.
	issue := func(t *testing.T, dir string, data string, extra ...string) string {
		t.Helper()
		r := filepath.Join(dir, "r.tsr")
		mustRun(t, dir, ccTSA, append([]string{"request", "--url", srv.url, "--data", data, "--out", r}, extra...)...)
		return r
	}
	// verify runs the script; it returns the output and whether it exited 0.
	verify := func(t *testing.T, dir string, args ...string) (string, bool) {
		t.Helper()
		out, code := run(t, dir, node, append([]string{script, "--ca", ca}, args...)...)
		if code != 0 && code != 1 {
			t.Fatalf("verify-token.mjs exited %d (usage or crash):\n%s", code, out)
		}
		return out, code == 0
	}

	cases := []struct {
		name   string
		expect string
		req    []string
		certs  []string
		checks int // at least this many "ok" lines
	}{
		{"hybrid/certReq", "hybrid", nil, nil, 45},
		{"hybrid/no-certs", "hybrid", []string{"--no-certs"}, []string{"--cert", tsaECDSA, "--cert", tsaMLDSA}, 45},
		{"hybrid/sha512", "hybrid", []string{"--hash", "sha512"}, nil, 45},
		{"mldsa/certReq", "mldsa", []string{"--policy", policyMLDSA}, nil, 25},
		{"mldsa/no-certs", "mldsa", []string{"--policy", policyMLDSA, "--no-certs"}, []string{"--cert", tsaMLDSA}, 25},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			data := writeFile(t, filepath.Join(dir, "data.bin"), []byte(rand.Text()))
			r := issue(t, dir, data, tc.req...)
			args := append([]string{"--expect", tc.expect, "--data", data}, tc.certs...)
			out, ok := verify(t, dir, append(args, r)...)
			if !ok || !strings.Contains(out, "ALL ") || strings.Count(out, "\nok ") < tc.checks-1 {
				t.Fatalf("verify-token.mjs rejected a good %s token:\n%s", tc.name, out)
			}
			if !strings.Contains(out, "ML-DSA-65 signature over signed attributes (@noble/post-quantum)") {
				t.Fatalf("verify-token.mjs did not check the ML-DSA-65 signature:\n%s", out)
			}

			// Negative controls on the same token.
			other := writeFile(t, filepath.Join(dir, "other.bin"), []byte("not the data"))
			if out, ok := verify(t, dir, append([]string{"--expect", tc.expect, "--data", other}, append(tc.certs, r)...)...); ok ||
				!strings.Contains(out, "FAIL  messageImprint") {
				t.Fatalf("verify-token.mjs accepted the token for other data:\n%s", out)
			}
			if len(tc.certs) > 0 {
				if out, ok := verify(t, dir, "--data", data, r); ok || !strings.Contains(out, "certificate found") {
					t.Fatalf("verify-token.mjs accepted a certReq=false token without the certificates:\n%s", out)
				}
			}
		})
	}

	// The inner token of another hybrid response, spliced in: the ECDSA
	// signature still stands, the SHA-512 binding and the shared TSTInfo
	// must not.
	t.Run("swapped-inner-token", func(t *testing.T) {
		dir := t.TempDir()
		data := writeFile(t, filepath.Join(dir, "data.bin"), []byte(rand.Text()))
		inner := func(resp []byte) []byte {
			sd, err := parseToken(granted(t, resp).token)
			if err != nil {
				t.Fatal(err)
			}
			return sd.unsigned[oidPQToken]
		}
		a := readFile(t, issue(t, dir, data, "--no-nonce"))
		innerA := inner(a)
		innerB := inner(readFile(t, issue(t, dir, data, "--no-nonce")))
		if bytes.Equal(innerA, innerB) {
			t.Fatal("two tokens with the same inner token")
		}
		spliced, ok := spliceDER(a, innerA, innerB)
		if !ok {
			t.Fatal("could not splice the inner token")
		}
		if sd, err := parseToken(granted(t, spliced).token); err != nil || !bytes.Equal(sd.unsigned[oidPQToken], innerB) {
			t.Fatalf("spliced response does not carry the other inner token (%v)", err)
		}
		p := writeFile(t, filepath.Join(dir, "spliced.tsr"), spliced)
		out, ok := verify(t, dir, "--data", data, p)
		if ok {
			t.Fatalf("verify-token.mjs accepted a response with another token's ML-DSA token:\n%s", out)
		}
		for _, want := range []string{
			"ok    outer: ECDSA P-384 signature over signed attributes",
			"FAIL  outer: signed attribute id-aa-ccTsaPqTokenHash = SHA-512(inner token DER)",
			"FAIL  inner: eContent equals the outer eContent byte for byte",
			"ok    inner: ML-DSA-65 signature over signed attributes",
		} {
			if !strings.Contains(out, want) {
				t.Fatalf("verify-token.mjs output lacks %q:\n%s", want, out)
			}
		}
		if out, code := run(t, dir, ccTSA, "verify", "--in", p, "--data", data, "--ca", ca, "--require-pq"); code == 0 {
			t.Fatalf("cc-tsa verify accepted a response with another token's ML-DSA token:\n%s", out)
		}
	})

	// An imprint whose bytes happen to be a BER encoding with an
	// indefinite length: asn1js also decodes primitive OCTET STRING
	// contents, and the DER check must not look inside them (a random
	// signature can do the same by chance).
	t.Run("imprint-looks-like-BER", func(t *testing.T) {
		dir := t.TempDir()
		r := goodReq()
		r.imprint = append(append([]byte{0x30, 0x80, 0x04, 0x1a}, bytes.Repeat([]byte{0x41}, 26)...), 0, 0)
		p := writeFile(t, filepath.Join(dir, "r.tsr"), timestamp(t, srv, r.der()))
		if out, ok := verify(t, dir, p); !ok || strings.Contains(out, "not DER") {
			t.Fatalf("verify-token.mjs rejected a token whose imprint looks like BER:\n%s", out)
		}
	})

	t.Run("bare-token", func(t *testing.T) {
		dir := t.TempDir()
		data := writeFile(t, filepath.Join(dir, "data.bin"), []byte(rand.Text()))
		tok := writeFile(t, filepath.Join(dir, "token.der"), granted(t, readFile(t, issue(t, dir, data))).token)
		if out, ok := verify(t, dir, "--token", "--expect", "hybrid", "--data", data, tok); !ok {
			t.Fatalf("verify-token.mjs --token rejected the bare token:\n%s", out)
		}
		if out, ok := verify(t, dir, "--data", data, tok); ok {
			t.Fatalf("verify-token.mjs took a bare token for a TimeStampResp:\n%s", out)
		}
	})

	t.Run("malformed", func(t *testing.T) {
		dir := t.TempDir()
		data := writeFile(t, filepath.Join(dir, "data.bin"), []byte(rand.Text()))
		resp := readFile(t, issue(t, dir, data))
		if resp[0] != 0x30 || resp[1] != 0x82 {
			t.Fatalf("response starts %x, want a SEQUENCE with a two-byte length", resp[:2])
		}
		for name, b := range map[string][]byte{
			"trailing byte":           append(bytes.Clone(resp), 0),
			"truncated":               resp[:len(resp)-1],
			"empty":                   nil,
			"BER: non-minimal length": append([]byte{0x30, 0x83, 0x00}, resp[2:]...),
			"BER: indefinite length":  append(append([]byte{0x30, 0x80}, resp[4:]...), 0, 0),
		} {
			p := writeFile(t, filepath.Join(dir, "bad.tsr"), b)
			if out, ok := verify(t, dir, p); ok || !strings.Contains(out, "FAIL  parse") {
				t.Fatalf("%s: verify-token.mjs did not reject it as unparsable:\n%s", name, out)
			}
		}
	})

	// One flipped byte in the inner ML-DSA-65 signature. In a hybrid token
	// this also breaks the SHA-512 binding; in an ML-DSA-only token only
	// the signature check can catch it.
	for _, policy := range []string{policyHybrid, policyMLDSA} {
		t.Run("tampered/"+policy[len(ccArc)+1:], func(t *testing.T) {
			dir := t.TempDir()
			data := writeFile(t, filepath.Join(dir, "data.bin"), []byte(rand.Text()))
			r := issue(t, dir, data, "--policy", policy)
			resp := readFile(t, r)
			tok := granted(t, resp).token
			sd, err := parseToken(tok)
			if err != nil {
				t.Fatal(err)
			}
			if policy == policyHybrid {
				if sd, err = parseToken(sd.unsigned[oidPQToken]); err != nil {
					t.Fatalf("inner token: %v", err)
				}
			}
			if sd.sigAlg != oidMLDSA65 || len(sd.signature) != 3309 {
				t.Fatalf("ML-DSA token signed with %s, %d-byte signature", sd.sigAlg, len(sd.signature))
			}
			if bytes.Count(resp, sd.signature) != 1 {
				t.Fatal("the ML-DSA-65 signature does not occur exactly once in the response")
			}
			i := bytes.Index(resp, sd.signature) + len(sd.signature)/2
			bad := bytes.Clone(resp)
			bad[i] ^= 0x01
			badPath := writeFile(t, filepath.Join(dir, "tampered.tsr"), bad)

			out, ok := verify(t, dir, "--data", data, badPath)
			if ok {
				t.Fatalf("verify-token.mjs accepted a token with a flipped signature byte:\n%s", out)
			}
			prefix := "inner"
			if policy == policyMLDSA {
				prefix = "token"
			}
			if want := "FAIL  " + prefix + ": ML-DSA-65 signature over signed attributes"; !strings.Contains(out, want) {
				t.Fatalf("verify-token.mjs output lacks %q:\n%s", want, out)
			}
			if policy == policyHybrid && !strings.Contains(out, "FAIL  outer: signed attribute id-aa-ccTsaPqTokenHash") {
				t.Fatalf("verify-token.mjs did not report the broken SHA-512 binding:\n%s", out)
			}
			// The untouched response still verifies: the failure is the flip.
			if out, ok := verify(t, dir, "--data", data, r); !ok {
				t.Fatalf("verify-token.mjs rejected the untouched token:\n%s", out)
			}
			// cc-tsa verify --require-pq rejects the tampered token too.
			if out, code := run(t, dir, ccTSA, "verify", "--in", badPath, "--data", data, "--ca", ca, "--require-pq"); code == 0 {
				t.Fatalf("cc-tsa verify accepted a token with a flipped ML-DSA signature byte:\n%s", out)
			}
		})
	}
}
