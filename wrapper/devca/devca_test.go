package devca

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
)

func subject(t *testing.T) (*Subject, *ecdsa.PrivateKey, *mldsa65.PrivateKey) {
	t.Helper()
	ek, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	epub, _ := ek.PublicKey.Bytes()
	mpk, msk, _ := mldsa65.GenerateKey(rand.Reader)
	mpub, _ := mpk.MarshalBinary()
	name, _ := tst.EncodeName([][2]string{{"O", "CC-TSA"}, {"CN", "unit test TSA"}})
	return &Subject{Name: name, ECDSAPublicKey: epub, MLDSAPublicKey: mpub, ECDSAKeyID: keyID(epub), MLDSAKeyID: keyID(mpub)}, ek, msk
}

func TestTSACertificates(t *testing.T) {
	ca, err := New("unit test")
	if err != nil {
		t.Fatal(err)
	}
	s, _, _ := subject(t)
	ev := &Evidence{Measurement: bytes.Repeat([]byte{1}, 48), TranscriptHash: bytes.Repeat([]byte{2}, 64), Simulated: true}
	ext, err := ev.Extension()
	if err != nil {
		t.Fatal(err)
	}
	s.Extensions = []Extension{ext}
	ec, mc, err := ca.IssueTSA(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*x509.Certificate{ec, mc} {
		if len(c.ExtKeyUsage) != 1 || c.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || c.KeyUsage != x509.KeyUsageDigitalSignature {
			t.Fatalf("usages %v %v", c.ExtKeyUsage, c.KeyUsage)
		}
		got, err := ParseEvidence(c)
		if err != nil || !bytes.Equal(got.Measurement, ev.Measurement) || !bytes.Equal(got.TranscriptHash, ev.TranscriptHash) || !got.Simulated {
			t.Fatalf("evidence %+v %v", got, err)
		}
		if !bytes.Equal(c.RawSubject, s.Name) {
			t.Fatal("subject is not the oracle's name")
		}
	}
	// Go's verifier accepts the ECDSA chain for time stamping...
	roots := x509.NewCertPool()
	roots.AddCert(ca.ECDSARoot)
	if _, err := ec.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping}}); err != nil {
		t.Fatal(err)
	}
	// ...and so does OpenSSL, which also insists the EKU is critical.
	if _, err := exec.LookPath("openssl"); err == nil {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, "root.pem"), CertPEM(ca.ECDSARoot), 0o644)
		os.WriteFile(filepath.Join(dir, "tsa.pem"), CertPEM(ec), 0o644)
		out, err := exec.Command("openssl", "verify", "-purpose", "timestampsign", "-CAfile", filepath.Join(dir, "root.pem"), filepath.Join(dir, "tsa.pem")).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "OK") {
			t.Fatalf("openssl verify: %v\n%s", err, out)
		}
	}
	// The ML-DSA certificate is signed by the ML-DSA root (circl verifies).
	var rpk mldsa65.PublicKey
	rspki := ca.MLDSARoot.RawSubjectPublicKeyInfo
	if err := rpk.UnmarshalBinary(rspki[len(rspki)-mldsa65.PublicKeySize:]); err != nil {
		t.Fatal(err)
	}
	if !mldsa65.Verify(&rpk, mc.RawTBSCertificate, nil, mc.Signature) {
		t.Fatal("ML-DSA TSA certificate does not verify under the ML-DSA root")
	}
}

func TestCSRChecks(t *testing.T) {
	ca, _ := New("unit test")
	s, ek, msk := subject(t)
	// A well-formed pair of CSRs signed with the keys.
	einfo := mustInfo(t, s.Name, s.ECDSAPublicKey, true)
	minfo := mustInfo(t, s.Name, s.MLDSAPublicKey, false)
	ecsr := signECDSA(t, ek, einfo)
	mcsr := signMLDSA(t, msk, minfo)
	if _, _, err := ca.IssueFromCSRs(mcsr, ecsr, nil); err != nil {
		t.Fatal(err)
	}
	bad := bytes.Clone(mcsr)
	bad[len(bad)-10] ^= 1
	if _, _, err := ca.IssueFromCSRs(bad, ecsr, nil); err == nil {
		t.Fatal("tampered ML-DSA CSR accepted")
	}
	bad = bytes.Clone(ecsr)
	bad[len(bad)-10] ^= 1
	if _, _, err := ca.IssueFromCSRs(mcsr, bad, nil); err == nil {
		t.Fatal("tampered ECDSA CSR accepted")
	}
	other, _ := tst.EncodeName([][2]string{{"CN", "someone else"}})
	if _, _, err := ca.IssueFromCSRs(signMLDSA(t, msk, mustInfo(t, other, s.MLDSAPublicKey, false)), ecsr, nil); err == nil {
		t.Fatal("CSRs with different subjects accepted")
	}
	// Go's own CSR parser agrees with the ECDSA request the oracle encodes.
	if _, err := x509.ParseCertificateRequest(ecsr); err != nil {
		t.Fatal(err)
	}
}

func mustInfo(t *testing.T, name, pub []byte, isECDSA bool) []byte {
	var spki []byte
	var err error
	if isECDSA {
		spki, err = tst.ECDSAPublicKeyInfo(pub)
	} else {
		spki, err = tst.MLDSAPublicKeyInfo(pub)
	}
	if err != nil {
		t.Fatal(err)
	}
	info, err := tst.CertificationRequestInfo(name, spki)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func signECDSA(t *testing.T, k *ecdsa.PrivateKey, info []byte) []byte {
	d := sha384(info)
	sig, err := ecdsa.SignASN1(rand.Reader, k, d)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := tst.CertificationRequest(info, tst.OIDECDSAWithSHA384, sig)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func signMLDSA(t *testing.T, k *mldsa65.PrivateKey, info []byte) []byte {
	sig := make([]byte, mldsa65.SignatureSize)
	if err := mldsa65.SignTo(k, info, nil, true, sig); err != nil {
		t.Fatal(err)
	}
	csr, err := tst.CertificationRequest(info, tst.OIDMLDSA65, sig)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

func sha384(b []byte) []byte {
	h := sha512.Sum384(b)
	return h[:]
}
