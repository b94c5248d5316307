package attest

import (
	"bytes"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readSeed decodes a one-value []byte seed file in the "go test fuzz v1"
// format.
func readSeed(t *testing.T, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if len(lines) != 2 || lines[0] != "go test fuzz v1" || !strings.HasPrefix(lines[1], "[]byte(") {
		t.Fatalf("%s: not a []byte seed", path)
	}
	s, err := strconv.Unquote(strings.TrimSuffix(strings.TrimPrefix(lines[1], "[]byte("), ")"))
	if err != nil {
		t.Fatal(err)
	}
	return []byte(s)
}

// TestCommittedEvidence verifies evidence written by another process (the
// committed seeds): simulated evidence from any simulator verifies under
// SimulatedRoots, and a flipped signature byte in it is still refused.
func TestCommittedEvidence(t *testing.T) {
	at := time.Date(2026, time.June, 1, 0, 0, 0, 0, time.UTC)
	v := newVerifier(t, simRoots(t), func(p *Policy) { p.Now = func() time.Time { return at } })
	for _, name := range []string{"valid-simulated", "valid-simulated-vlek"} {
		ev, err := UnmarshalEvidence(readSeed(t, filepath.Join("testdata", "fuzz", "FuzzVerify", name)))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		rep, err := v.Verify(ev, testReportData("fuzz"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !rep.Simulated || rep.Measurement != testMeasurement() {
			t.Fatalf("%s: %+v", name, rep)
		}
		ev.Report = flip(ev.Report, offSignature+71)
		if _, err := v.Verify(ev, testReportData("fuzz")); !errors.Is(err, ErrSignature) {
			t.Fatalf("%s tampered: %v, want ErrSignature", name, err)
		}
	}
}

// TestChainsWithOpenSSL checks the fake chain of simulated evidence and
// AMD's embedded roots with openssl, which nobody here wrote.
func TestChainsWithOpenSSL(t *testing.T) {
	openssl, err := exec.LookPath("openssl")
	if err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	write := func(name string, der ...[]byte) string {
		var b bytes.Buffer
		for _, d := range der {
			if err := pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: d}); err != nil {
				t.Fatal(err)
			}
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	run := func(args ...string) error {
		out, err := exec.Command(openssl, args...).CombinedOutput()
		t.Logf("openssl %s: %s", strings.Join(args, " "), bytes.TrimSpace(out))
		return err
	}
	for _, vlek := range []bool{false, true} {
		ev := attest(t, newSim(t, func(c *SimulatedConfig) { c.VLEK = vlek }), testReportData(""))
		ark := write("ark.pem", ev.RootCert)
		ica := write("ica.pem", ev.IntermediateCert)
		ek := write("ek.pem", ev.EndorsementCert)
		if err := run("verify", "-x509_strict", "-CAfile", ark, "-untrusted", ica, ek); err != nil {
			t.Fatalf("openssl rejects the fake chain (VLEK=%v): %v", vlek, err)
		}
		// And it refuses the endorsement certificate under a wrong root.
		other := write("other.pem", mustAMDRoots(t).lines["Milan"].Ark.Raw)
		if err := run("verify", "-CAfile", other, "-untrusted", ica, ek); err == nil {
			t.Fatal("openssl accepts the fake chain under AMD's real ARK")
		}
	}
	for line, pc := range mustAMDRoots(t).lines {
		ark := write("ark-"+line+".pem", pc.Ark.Raw)
		if err := run("verify", "-CAfile", ark, write("ask-"+line+".pem", pc.Ask.Raw)); err != nil {
			t.Fatalf("openssl rejects AMD's %s ASK: %v", line, err)
		}
		if err := run("verify", "-CAfile", ark, write("asvk-"+line+".pem", pc.Asvk.Raw)); err != nil {
			t.Fatalf("openssl rejects AMD's %s ASVK: %v", line, err)
		}
	}
}

func BenchmarkReportData(b *testing.B) {
	id, hpke, nonce := make([]byte, 1952), make([]byte, 32), make([]byte, 32)
	for b.Loop() {
		ReportData(id, hpke, nonce)
	}
}

func BenchmarkSimulatedAttest(b *testing.B) {
	sim := newSim(b, nil)
	rd := testReportData("bench")
	for b.Loop() {
		if _, err := sim.Attest(rd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	sim := newSim(b, nil)
	rd := testReportData("bench")
	ev := attest(b, sim, rd)
	v := newVerifier(b, simRoots(b), nil)
	for b.Loop() {
		if _, err := v.Verify(ev, rd); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalEvidence(b *testing.B) {
	ev := attest(b, newSim(b, nil), testReportData("bench"))
	enc, err := ev.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	for b.Loop() {
		if _, err := UnmarshalEvidence(enc); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNewSimulated(b *testing.B) {
	for b.Loop() {
		if _, err := NewSimulated(SimulatedConfig{Measurement: testMeasurement()}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAMDRoots(b *testing.B) {
	for b.Loop() {
		if _, err := AMDRoots(); err != nil {
			b.Fatal(err)
		}
	}
}
