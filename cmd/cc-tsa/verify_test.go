package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify/tsverifytest"
)

// verifyCLI runs `cc-tsa verify` and returns its exit code and output.
func verifyCLI(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), append([]string{"verify"}, args...), &out, &errOut)
	return code, out.String() + errOut.String()
}

func TestVerifyPolicyDefaults(t *testing.T) {
	m, err := tsverifytest.New(tsverifytest.Config{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	var roots []byte
	for _, r := range m.Roots {
		roots = append(roots, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: r.Raw})...)
	}
	ca := write("ca.pem", roots)
	data := []byte("time-stamped data")
	dataFile := write("data", data)
	token := func(name string, s *tsverifytest.Spec) string {
		s.Data, s.CertReq = data, true
		tok, err := m.Token(s)
		if err != nil {
			t.Fatal(err)
		}
		return write(name, tok)
	}
	base := func(p string, extra ...string) []string {
		return append([]string{"--token", "--in", p, "--data", dataFile, "--ca", ca}, extra...)
	}

	hybrid := token("hybrid", &tsverifytest.Spec{Shape: tsverifytest.Hybrid})
	for _, extra := range [][]string{nil, {"--require-pq"}} {
		code, out := verifyCLI(t, base(hybrid, extra...)...)
		if code != 0 || !strings.Contains(out, "Verification: OK\n") || !strings.Contains(out, "binding:") ||
			!strings.Contains(out, "(hybrid ECDSA P-384 + ML-DSA-65)") {
			t.Fatalf("complete hybrid token %v: exit %d\n%s", extra, code, out)
		}
	}

	ecdsaOnly := token("ecdsa-only", &tsverifytest.Spec{Shape: tsverifytest.ECDSAOnly})
	for _, extra := range [][]string{nil, {"--require-pq"}, {"--pq-only"}} {
		code, out := verifyCLI(t, base(ecdsaOnly, extra...)...)
		if code != 1 || strings.Contains(out, "Verification: OK") || !strings.Contains(out, "ML-DSA-65 signature the policy requires is absent") ||
			!strings.Contains(out, "--classical-only") {
			t.Fatalf("ECDSA-only hybrid token %v: exit %d\n%s", extra, code, out)
		}
	}
	code, out := verifyCLI(t, base(ecdsaOnly, "--classical-only")...)
	if code != 0 || !strings.Contains(out, "Verification: OK, CLASSICAL ONLY (--classical-only): NO post-quantum protection") ||
		!strings.Contains(out, "ML-DSA-65:   ABSENT") || strings.Contains(out, "binding:") {
		t.Fatalf("ECDSA-only hybrid token with --classical-only: exit %d\n%s", code, out)
	}
	if code, out := verifyCLI(t, base(ecdsaOnly, "--classical-only", "--require-pq")...); code != 2 {
		t.Fatalf("--classical-only with --require-pq: exit %d\n%s", code, out)
	}

	inner := token("inner", &tsverifytest.Spec{Shape: tsverifytest.MLDSAOnly})
	if code, out := verifyCLI(t, base(inner)...); code != 1 || !strings.Contains(out, "ECDSA P-384 signature the hybrid policy requires is absent") {
		t.Fatalf("inner token alone: exit %d\n%s", code, out)
	}
	if code, out := verifyCLI(t, base(inner, "--pq-only")...); code != 0 || !strings.Contains(out, "ML-DSA-65 ONLY (--pq-only)") {
		t.Fatalf("inner token alone with --pq-only: exit %d\n%s", code, out)
	}

	noPQ := token("mldsa-policy-ecdsa", &tsverifytest.Spec{Shape: tsverifytest.ECDSAOnly, Policy: tst.OIDPolicyMLDSA})
	for _, extra := range [][]string{nil, {"--classical-only"}} {
		if code, out := verifyCLI(t, base(noPQ, extra...)...); code != 1 || strings.Contains(out, "Verification: OK") {
			t.Fatalf("ML-DSA-only policy without an ML-DSA token %v: exit %d\n%s", extra, code, out)
		}
	}
	pq := token("mldsa-policy", &tsverifytest.Spec{Shape: tsverifytest.MLDSAOnly, Policy: tst.OIDPolicyMLDSA})
	if code, out := verifyCLI(t, base(pq)...); code != 0 || !strings.Contains(out, "(ML-DSA-65 only)") {
		t.Fatalf("ML-DSA-only token: exit %d\n%s", code, out)
	}

	unbound := token("unbound", &tsverifytest.Spec{Shape: tsverifytest.Unbound})
	for _, extra := range [][]string{nil, {"--classical-only"}} {
		if code, out := verifyCLI(t, base(unbound, extra...)...); code != 1 || !strings.Contains(out, "not bound") {
			t.Fatalf("token without the binding %v: exit %d\n%s", extra, code, out)
		}
	}

	unknown := token("unknown-policy", &tsverifytest.Spec{Shape: tsverifytest.Hybrid, Policy: "1.2.3.4"})
	if code, out := verifyCLI(t, base(unknown, "--classical-only")...); code != 1 || !strings.Contains(out, "unknown TSA policy") {
		t.Fatalf("unknown policy: exit %d\n%s", code, out)
	}
}
