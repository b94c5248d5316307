package e2e

import (
	"archive/zip"
	"bytes"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// jvmFlags make the short-lived JVMs of keytool and jarsigner start
// faster on a small, busy machine.
var jvmFlags = []string{"-J-XX:TieredStopAtLevel=1", "-J-XX:+UseSerialGC"}

// writeJar writes a minimal jar (a zip with a manifest and one file).
func writeJar(t *testing.T, path string) {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range []struct{ name, body string }{
		{"META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nCreated-By: CC-TSA e2e tests\r\n\r\n"},
		{"hello.txt", "hello from a CC-TSA time-stamped jar\n"},
	} {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(f.body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	writeFile(t, path, buf.Bytes())
}

// TestJarsigner signs a jar with `jarsigner -tsa` against the TSA and
// verifies it with `jarsigner -verify -strict`, first without the ECDSA
// root in the keystore (must fail), then with it.
func TestJarsigner(t *testing.T) {
	if _, err := exec.LookPath("jarsigner"); err != nil {
		t.Skipf("jarsigner (OpenJDK) is not installed: %v", err)
	}
	forEachMode(t, testJarsigner)
}

func testJarsigner(t *testing.T, srv *devServer) {
	jarsigner := needTool(t, "jarsigner")
	keytool := needTool(t, "keytool")
	dir := t.TempDir()
	writeJar(t, filepath.Join(dir, "app.jar"))

	const pass = "e2e-store-pass"
	ks := filepath.Join(dir, "keys.p12")
	store := []string{"-keystore", ks, "-storetype", "PKCS12", "-storepass", pass}
	mustRun(t, dir, keytool, append(append(jvmFlags, "-genkeypair", "-alias", "signer", "-keyalg", "EC", "-groupname", "secp256r1",
		"-sigalg", "SHA256withECDSA", "-dname", "CN=CC-TSA e2e jar signer", "-validity", "2", "-keypass", pass), store...)...)

	out := mustRun(t, dir, jarsigner, append(append(jvmFlags, "-tsa", srv.url, "-signedjar", "signed.jar"), append(store, "app.jar", "signer")...)...)
	if !strings.Contains(out, "jar signed.") {
		t.Fatalf("jarsigner -tsa:\n%s", out)
	}
	verify := func() (string, int) {
		return run(t, dir, jarsigner, append(append(jvmFlags, "-verify", "-strict", "-verbose", "-certs"), append(store, "signed.jar")...)...)
	}

	// Control first: the keystore holds only the signer, so the TSA's
	// chain cannot be validated and -strict turns that into a failure.
	out, code := verify()
	if code == 0 || !strings.Contains(out, "TSA certificate chain is invalid") {
		t.Fatalf("jarsigner -verify -strict without the TSA root exited %d:\n%s", code, out)
	}

	mustRun(t, dir, keytool, append(append(jvmFlags, "-importcert", "-noprompt", "-alias", "cc-tsa-ecdsa-root", "-file", ecdsaRootPEM(t, srv, dir)), store...)...)
	out, code = verify()
	if code != 0 {
		t.Fatalf("jarsigner -verify -strict exited %d:\n%s", code, out)
	}
	// Java quotes a CN with a comma: CN="…, NOT THRESHOLD)", O=CC-TSA.
	cn := tsaCommonName(t, srv)
	if strings.Contains(cn, ",") {
		cn = `"` + cn + `"`
	}
	for _, want := range []string{
		`Timestamped by "CN=` + cn + `, O=CC-TSA"`,
		"Timestamp signature algorithm: SHA384withECDSA, 384-bit key",
		"jar verified.",
	} {
		if !strings.Contains(out, want) {
			t.Fatalf("jarsigner -verify output lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"Invalid", "PKIX path building failed", "errors", "unsigned"} {
		if strings.Contains(out, bad) {
			t.Fatalf("jarsigner -verify output contains %q:\n%s", bad, out)
		}
	}
}
