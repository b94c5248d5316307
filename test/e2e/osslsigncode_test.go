package e2e

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// ecdsaRootPEM writes the first certificate of the server's ca.pem (the
// ECDSA P-384 root) to its own file and returns the path.
func ecdsaRootPEM(t *testing.T, srv *devServer, dir string) string {
	t.Helper()
	b, _ := pem.Decode(readFile(t, srv.file("ca.pem")))
	if b == nil || b.Type != "CERTIFICATE" {
		t.Fatal("ca.pem does not start with a PEM certificate")
	}
	return writeFile(t, filepath.Join(dir, "ecdsa-root.pem"), pem.EncodeToMemory(b))
}

// tsaCommonName returns the CN of the server's ECDSA TSA certificate.
func tsaCommonName(t *testing.T, srv *devServer) string {
	t.Helper()
	b, _ := pem.Decode(readFile(t, srv.file("tsa-ecdsa.pem")))
	if b == nil {
		t.Fatal("tsa-ecdsa.pem holds no PEM block")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil || c.Subject.CommonName == "" {
		t.Fatalf("tsa-ecdsa.pem: %v (CN %q)", err, c.Subject.CommonName)
	}
	return c.Subject.CommonName
}

// helloPE cross-compiles a tiny Go program for windows/amd64.
func helloPE(t *testing.T, dir string) string {
	t.Helper()
	src := filepath.Join(dir, "hello")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "go.mod"), []byte("module hello\n\ngo 1.22\n"))
	writeFile(t, filepath.Join(src, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"hello from a CC-TSA time-stamped binary\") }\n"))
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	exe := filepath.Join(dir, "hello.exe")
	c := exec.Command(goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", exe, ".")
	c.Dir = src
	c.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0", "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=-buildvcs=false")
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("cross-compiling hello.exe: %v\n%s", err, out)
	}
	if h := readFile(t, exe)[:2]; string(h) != "MZ" {
		t.Fatalf("hello.exe starts with %q, not a PE", h)
	}
	return exe
}

// TestOsslsigncode signs a Windows PE with Authenticode and has
// osslsigncode fetch an RFC 3161 counter-signature from the TSA, then
// verifies signature and time-stamp against the ECDSA root.
func TestOsslsigncode(t *testing.T) { forEachMode(t, testOsslsigncode) }

func testOsslsigncode(t *testing.T, srv *devServer) {
	osslsigncode := needTool(t, "osslsigncode")
	openssl := needTool(t, "openssl")
	dir := t.TempDir()
	exe := helloPE(t, dir)
	csKey, csCert := filepath.Join(dir, "cs.key"), filepath.Join(dir, "cs.pem")
	mustRun(t, dir, openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
		"-keyout", csKey, "-out", csCert, "-days", "2", "-subj", "/CN=CC-TSA e2e code signing",
		"-addext", "keyUsage=critical,digitalSignature", "-addext", "extendedKeyUsage=codeSigning")
	root := ecdsaRootPEM(t, srv, dir)
	signed := filepath.Join(dir, "signed.exe")

	out := mustRun(t, dir, osslsigncode, "sign", "-certs", csCert, "-key", csKey, "-h", "sha256",
		"-ts", srv.url, "-in", exe, "-out", signed)
	if !strings.Contains(out, "Succeeded") {
		t.Fatalf("osslsigncode sign:\n%s", out)
	}

	out, code := run(t, dir, osslsigncode, "verify", "-in", signed, "-CAfile", csCert, "-TSA-CAfile", root)
	if code != 0 {
		t.Fatalf("osslsigncode verify exited %d:\n%s", code, out)
	}
	for _, want := range []string{
		"Timestamp Server Signature verification: ok",
		"CN=" + tsaCommonName(t, srv),
		"Signature verification: ok",
		"Succeeded",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("osslsigncode verify output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Failed") {
		t.Fatalf("osslsigncode verify reports a failure:\n%s", out)
	}

	// Control: with an unrelated certificate as the TSA trust anchor the
	// time-stamp must not verify. (osslsigncode still exits 0 then, as the
	// code-signing certificate is valid now; it reports the time-stamp
	// failure in its output.)
	out, _ = run(t, dir, osslsigncode, "verify", "-in", signed, "-CAfile", csCert, "-TSA-CAfile", csCert)
	if !strings.Contains(out, "Timestamp Server Signature verification: failed") || strings.Contains(out, "Timestamp Server Signature verification: ok") {
		t.Fatalf("osslsigncode verified the time-stamp against the wrong TSA root:\n%s", out)
	}
}
