package e2e

import (
	"strings"
	"testing"
)

// TestAttestCommand runs `cc-tsa attest` with the documented contract
// against the 3-of-5 development cluster: it passes with --ca and
// --attest simulated, saying what it proved and what not, and fails
// without --attest simulated (hardware is the default), with another CA,
// and without --ca.
func TestAttestCommand(t *testing.T) {
	srv := cluster
	base := []string{"attest", "--url", srv.url, "--cert", srv.file("tsa-ecdsa.pem")}
	out := mustRun(t, srv.dir, ccTSA, append(base, "--ca", srv.file("ca.pem"), "--attest", "simulated")...)
	for _, want := range []string{"PROVEN:", "NOT PROVEN:", "5 distinct oracles", "members of epoch 0", "SIMULATED"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for name, args := range map[string][]string{
		"hardware by default": append(base, "--ca", srv.file("ca.pem")),
		"another CA":          append(base, "--ca", dev.file("ca.pem"), "--attest", "simulated"),
		"no --ca":             append(base, "--attest", "simulated"),
	} {
		if out, code := run(t, srv.dir, ccTSA, args...); code == 0 {
			t.Errorf("%s: exit 0:\n%s", name, out)
		}
	}
}
