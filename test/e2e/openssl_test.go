package e2e

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenSSL time-stamps with `openssl ts -query` and verifies the
// answers with `openssl ts -verify` and `cc-tsa verify --require-pq`, against
// both the single-oracle and the 3-of-5 threshold TSA.
func TestOpenSSL(t *testing.T) { forEachMode(t, testOpenSSL) }

func testOpenSSL(t *testing.T, srv *devServer) {
	openssl := needTool(t, "openssl")
	ca, tsaECDSA, tsaMLDSA := srv.file("ca.pem"), srv.file("tsa-ecdsa.pem"), srv.file("tsa-mldsa.pem")
	for _, hash := range []string{"sha256", "sha384", "sha512"} {
		for _, nonce := range []bool{true, false} {
			for _, cert := range []bool{true, false} {
				t.Run(fmt.Sprintf("%s/nonce=%v/cert=%v", hash, nonce, cert), func(t *testing.T) {
					dir := t.TempDir()
					data := writeFile(t, filepath.Join(dir, "data.bin"), append([]byte(t.Name()+"\n"), rand.Text()...))
					other := writeFile(t, filepath.Join(dir, "other.bin"), []byte("not the time-stamped data\n"))
					q, r := filepath.Join(dir, "q.tsq"), filepath.Join(dir, "r.tsr")
					args := []string{"ts", "-query", "-data", data, "-" + hash, "-out", q}
					if !nonce {
						args = append(args, "-no_nonce")
					}
					if cert {
						args = append(args, "-cert")
					}
					mustRun(t, dir, openssl, args...)
					query := readFile(t, q)
					resp := timestamp(t, srv, query)
					writeFile(t, r, resp)

					// The token answers this request: hybrid, the imprint
					// echoed byte for byte, the nonce echoed, certificates
					// only when asked for.
					rq, err := reqFields(query)
					if err != nil {
						t.Fatalf("openssl's query: %v", err)
					}
					if (rq.nonce != nil) != nonce {
						t.Fatalf("openssl query nonce %v, want present=%v", rq.nonce, nonce)
					}
					sd, err := parseToken(granted(t, resp).token)
					if err != nil {
						t.Fatal(err)
					}
					if sd.sigAlg != oidECDSA384 || sd.unsigned[oidPQToken] == nil {
						t.Fatalf("token signed with %s, PQ token attribute present %v; want a hybrid token", sd.sigAlg, sd.unsigned[oidPQToken] != nil)
					}
					if (sd.certs > 0) != cert {
						t.Fatalf("token has %d certificates, certReq %v", sd.certs, cert)
					}
					tf, err := parseTSTInfo(sd.eContent)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(tf.imprint, rq.imprint) {
						t.Fatalf("TSTInfo messageImprint %x, request's %x", tf.imprint, rq.imprint)
					}
					if (tf.nonce == nil) != (rq.nonce == nil) || (tf.nonce != nil && tf.nonce.Cmp(rq.nonce) != 0) {
						t.Fatalf("TSTInfo nonce %v, request's %v", tf.nonce, rq.nonce)
					}
					if tf.policy != policyHybrid {
						t.Fatalf("TSTInfo policy %s, want the hybrid default %s", tf.policy, policyHybrid)
					}

					var untrusted []string
					if !cert {
						untrusted = []string{"-untrusted", tsaECDSA}
						// Without the TSA certificate OpenSSL cannot verify:
						// the token really carries none.
						out, code := run(t, dir, openssl, "ts", "-verify", "-in", r, "-queryfile", q, "-CAfile", ca)
						if code == 0 || strings.Contains(out, "Verification: OK") {
							t.Fatalf("openssl verified a certReq=false token without the TSA certificate:\n%s", out)
						}
					}
					out := mustRun(t, dir, openssl, append([]string{"ts", "-verify", "-in", r, "-queryfile", q, "-CAfile", ca}, untrusted...)...)
					if !strings.Contains(out, "Verification: OK") {
						t.Fatalf("openssl ts -verify -queryfile:\n%s", out)
					}
					out = mustRun(t, dir, openssl, append([]string{"ts", "-verify", "-in", r, "-data", data, "-CAfile", ca}, untrusted...)...)
					if !strings.Contains(out, "Verification: OK") {
						t.Fatalf("openssl ts -verify -data:\n%s", out)
					}
					out, code := run(t, dir, openssl, append([]string{"ts", "-verify", "-in", r, "-data", other, "-CAfile", ca}, untrusted...)...)
					if code == 0 || !strings.Contains(out, "Verification: FAILED") {
						t.Fatalf("openssl ts -verify with the wrong data exited %d:\n%s", code, out)
					}

					vargs := []string{"verify", "--in", r, "--ca", ca, "--require-pq"}
					if !cert {
						vargs = append(vargs, "--certs", tsaECDSA, "--certs", tsaMLDSA)
					}
					if nonce {
						vargs = append(vargs, "--nonce", rq.nonce.Text(16))
					}
					out = mustRun(t, dir, ccTSA, append(vargs, "--data", data)...)
					for _, want := range []string{"Verification: OK", "ECDSA P-384: signature and chain OK", "ML-DSA-65:   signature and chain OK", "binding:"} {
						if !strings.Contains(out, want) {
							t.Fatalf("cc-tsa verify output lacks %q:\n%s", want, out)
						}
					}
					out, code = run(t, dir, ccTSA, append(vargs, "--data", other)...)
					if code == 0 || !strings.Contains(out, "verification failed") || !strings.Contains(out, "message imprint does not match") {
						t.Fatalf("cc-tsa verify with the wrong data exited %d:\n%s", code, out)
					}
				})
			}
		}
	}

	// The ML-DSA-only policy, asked for with openssl's -tspolicy.
	// OpenSSL 3.0 cannot verify ML-DSA-65, but it parses the reply.
	t.Run("policy=mldsa", func(t *testing.T) {
		dir := t.TempDir()
		data := writeFile(t, filepath.Join(dir, "data.bin"), []byte(rand.Text()))
		q, r := filepath.Join(dir, "q.tsq"), filepath.Join(dir, "r.tsr")
		mustRun(t, dir, openssl, "ts", "-query", "-data", data, "-sha512", "-cert", "-tspolicy", policyMLDSA, "-out", q)
		query := readFile(t, q)
		if rq, err := reqFields(query); err != nil || rq.policy != policyMLDSA {
			t.Fatalf("openssl's query policy %v (%v)", rq, err)
		}
		resp := timestamp(t, srv, query)
		writeFile(t, r, resp)
		sd, err := parseToken(granted(t, resp).token)
		if err != nil {
			t.Fatal(err)
		}
		if sd.sigAlg != oidMLDSA65 || len(sd.unsigned) != 0 || sd.certs != 1 {
			t.Fatalf("token signed with %s, %d unsigned attributes, %d certificates; want ML-DSA-65 only, with its certificate", sd.sigAlg, len(sd.unsigned), sd.certs)
		}
		if tf, err := parseTSTInfo(sd.eContent); err != nil || tf.policy != policyMLDSA {
			t.Fatalf("TSTInfo %+v (%v), want policy %s", tf, err, policyMLDSA)
		}
		out := mustRun(t, dir, openssl, "ts", "-reply", "-in", r, "-text")
		if !strings.Contains(out, "Status: Granted.") || !strings.Contains(out, policyMLDSA) {
			t.Fatalf("openssl ts -reply -text:\n%s", out)
		}
		out = mustRun(t, dir, ccTSA, "verify", "--in", r, "--data", data, "--ca", ca, "--require-pq")
		if !strings.Contains(out, "Verification: OK") || !strings.Contains(out, "ML-DSA-65 only") {
			t.Fatalf("cc-tsa verify:\n%s", out)
		}
	})

	// A token is only as good as its trust anchor: an unrelated root must
	// not verify it.
	t.Run("wrong-CA", func(t *testing.T) {
		dir := t.TempDir()
		data := writeFile(t, filepath.Join(dir, "data.bin"), []byte(rand.Text()))
		q, r := filepath.Join(dir, "q.tsq"), filepath.Join(dir, "r.tsr")
		other := filepath.Join(dir, "other-ca.pem")
		mustRun(t, dir, openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384", "-nodes",
			"-keyout", filepath.Join(dir, "other.key"), "-out", other, "-days", "2", "-subj", "/CN=Unrelated e2e root")
		mustRun(t, dir, openssl, "ts", "-query", "-data", data, "-sha384", "-cert", "-out", q)
		writeFile(t, r, timestamp(t, srv, readFile(t, q)))
		out, code := run(t, dir, openssl, "ts", "-verify", "-in", r, "-queryfile", q, "-CAfile", other)
		if code == 0 || strings.Contains(out, "Verification: OK") {
			t.Fatalf("openssl verified the token against an unrelated root:\n%s", out)
		}
		out, code = run(t, dir, ccTSA, "verify", "--in", r, "--data", data, "--ca", other)
		if code == 0 || !strings.Contains(out, "verification failed") {
			t.Fatalf("cc-tsa verify accepted the token against an unrelated root (exit %d):\n%s", code, out)
		}
	})

	// POST /tsa is the same service as POST /.
	t.Run("path=/tsa", func(t *testing.T) {
		dir := t.TempDir()
		data := writeFile(t, filepath.Join(dir, "data.bin"), []byte(rand.Text()))
		q, r := filepath.Join(dir, "q.tsq"), filepath.Join(dir, "r.tsr")
		mustRun(t, dir, openssl, "ts", "-query", "-data", data, "-sha256", "-cert", "-out", q)
		code, body, ct := post(t, srv, "POST", "/tsa", "application/timestamp-query", readFile(t, q))
		if code != 200 || ct != "application/timestamp-reply" {
			t.Fatalf("POST /tsa: HTTP %d %q", code, ct)
		}
		writeFile(t, r, body)
		if out := mustRun(t, dir, openssl, "ts", "-verify", "-in", r, "-queryfile", q, "-CAfile", ca); !strings.Contains(out, "Verification: OK") {
			t.Fatalf("openssl ts -verify:\n%s", out)
		}
	})
}
