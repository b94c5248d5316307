package ecdsa

import (
	stdecdsa "crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUnconfirmedKeyRefusesOtherDigests(t *testing.T) {
	ks := testShares(t)
	if ks[1].Confirmed() {
		// The confirmation fixture already ran; check ConfirmKey rejects bad input instead.
		if err := ks[1].ConfirmKey(make([][]byte, 10)); !errors.Is(err, ErrConfirmation) {
			t.Fatalf("bad confirmation accepted: %v", err)
		}
		return
	}
	ss := newSigners(t, ks, SignerConfig{})
	set := []int{1, 2, 3}
	ps, err := runPresign(t, ss, set, randomSID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(ps[1], sha384([]byte("x"))); !errors.Is(err, ErrUnconfirmed) {
		t.Fatalf("unconfirmed key signed an application digest: %v", err)
	}
	if err := ks[1].ConfirmKey(make([][]byte, 10)); !errors.Is(err, ErrConfirmation) {
		t.Fatalf("bad confirmation accepted: %v", err)
	}
}

func TestEverySubsetSignsGoAndOpenSSL(t *testing.T) {
	ks := confirmedShares(t)
	for i := 1; i <= Parties; i++ {
		if !ks[i].Confirmed() {
			t.Fatalf("party %d not confirmed", i)
		}
	}
	ss := newSigners(t, ks, SignerConfig{})
	pub := ks[1].PublicKey()
	openssl, lookErr := exec.LookPath("openssl")
	dir := t.TempDir()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := filepath.Join(dir, "pub.pem")
	os.WriteFile(pubPEM, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600)
	for n, set := range Subsets() {
		msg := []byte(fmt.Sprintf("timestamp token %d for subset %v", n, set))
		digest := sha384(msg)
		ps, err := runPresign(t, ss, set, randomSID(), nil)
		if err != nil {
			t.Fatalf("subset %v: %v", set, err)
		}
		sig, err := Combine(pub, digest, signAll(t, ps, set, digest))
		if err != nil {
			t.Fatalf("subset %v: %v", set, err)
		}
		if !stdecdsa.VerifyASN1(pub, digest, sig) {
			t.Fatalf("subset %v: crypto/ecdsa rejects the signature", set)
		}
		if stdecdsa.VerifyASN1(pub, sha384([]byte("other")), sig) {
			t.Fatal("signature verifies for another message")
		}
		if lookErr != nil {
			continue
		}
		msgPath := filepath.Join(dir, "msg")
		sigPath := filepath.Join(dir, "sig.der")
		os.WriteFile(msgPath, msg, 0o600)
		os.WriteFile(sigPath, sig, 0o600)
		out, err := exec.Command(openssl, "dgst", "-sha384", "-verify", pubPEM, "-signature", sigPath, msgPath).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "Verified OK") {
			t.Fatalf("subset %v: openssl: %v %s", set, err, out)
		}
		if n == 0 {
			os.WriteFile(msgPath, append(msg, '!'), 0o600)
			out, err := exec.Command(openssl, "dgst", "-sha384", "-verify", pubPEM, "-signature", sigPath, msgPath).CombinedOutput()
			if err == nil || strings.Contains(string(out), "Verified OK") {
				t.Fatal("openssl accepted a modified message")
			}
		}
	}
	if lookErr != nil {
		t.Skip("openssl not found; verified with crypto/ecdsa only")
	}
}

func TestPresignatureSingleUse(t *testing.T) {
	ks := confirmedShares(t)
	ss := newSigners(t, ks, SignerConfig{})
	set := []int{1, 3, 5}
	sid := randomSID()
	ps, err := runPresign(t, ss, set, sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ss[1].Live() != 1 {
		t.Fatalf("pool has %d presignatures, want 1", ss[1].Live())
	}
	d := sha384([]byte("a"))
	if _, err := Sign(ps[1], d); err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(ps[1], sha384([]byte("b"))); !errors.Is(err, ErrConsumed) {
		t.Fatalf("second use: %v", err)
	}
	if _, err := Sign(ps[1], d); !errors.Is(err, ErrConsumed) {
		t.Fatalf("second use, same digest: %v", err)
	}
	if ss[1].Live() != 0 {
		t.Fatal("consumed presignature still in pool")
	}
	// The session id cannot be reused.
	if _, err := ss[1].NewPresign(sid, set); !errors.Is(err, ErrSessionReused) {
		t.Fatalf("reused session id: %v", err)
	}
	// Concurrent double use: exactly one wins.
	ps, err = runPresign(t, ss, set, randomSID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for k := 0; k < 8; k++ {
		go func() { _, err := Sign(ps[3], sha384([]byte{byte(k)})); errs <- err }()
	}
	ok := 0
	for k := 0; k < 8; k++ {
		if <-errs == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Fatalf("%d concurrent Sign calls succeeded, want 1", ok)
	}
}

func TestPresignatureBoundedAndExpiring(t *testing.T) {
	ks := confirmedShares(t)
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	ss := newSigners(t, ks, SignerConfig{MaxPresignatures: 1, MaxAge: time.Minute, Now: clock})
	set := []int{2, 3, 4}
	ps, err := runPresign(t, ss, set, randomSID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runPresign(t, ss, set, randomSID(), nil); !errors.Is(err, ErrPoolFull) {
		t.Fatalf("pool bound not enforced: %v", err)
	}
	now = now.Add(2 * time.Minute)
	if _, err := Sign(ps[2], sha384([]byte("late"))); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired presignature used: %v", err)
	}
	if _, err := Sign(ps[2], sha384([]byte("late"))); !errors.Is(err, ErrConsumed) {
		t.Fatal("expired presignature not burnt")
	}
	if ss[3].Live() != 0 {
		t.Fatal("expired presignature still counted")
	}
	if _, err := runPresign(t, ss, set, randomSID(), nil); err != nil {
		t.Fatalf("pool did not free after expiry: %v", err)
	}
}

func TestFewerThanThreeCannotSign(t *testing.T) {
	ks := confirmedShares(t)
	ss := newSigners(t, ks, SignerConfig{})
	if _, err := ss[1].NewPresign(randomSID(), []int{1, 2}); !errors.Is(err, ErrConfig) {
		t.Fatalf("2-party set accepted: %v", err)
	}
	if _, err := ss[1].NewPresign(randomSID(), []int{2, 3, 4}); !errors.Is(err, ErrConfig) {
		t.Fatal("set without self accepted")
	}
	if _, err := ss[1].NewPresign(randomSID(), []int{1, 1, 2}); !errors.Is(err, ErrConfig) {
		t.Fatal("set with duplicates accepted")
	}
	// Two honest shares plus a forged third cannot produce a valid signature.
	set := []int{1, 2, 3}
	ps, err := runPresign(t, ss, set, randomSID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	d := sha384([]byte("m"))
	shares := signAll(t, ps, set, d)
	if _, err := Combine(ks[1].PublicKey(), d, shares[:2]); !errors.Is(err, ErrShares) {
		t.Fatalf("two shares accepted: %v", err)
	}
	forged := *shares[2]
	rand.Read(forged.W[1:])
	rand.Read(forged.U[1:])
	_, err = Combine(ks[1].PublicKey(), d, []*SignShare{shares[0], shares[1], &forged})
	if !errors.Is(err, ErrInvalidSig) {
		t.Fatalf("forged share: %v", err)
	}
	// Tampered honest share.
	bad := *shares[0]
	bad.W[40] ^= 1
	if _, err := Combine(ks[1].PublicKey(), d, []*SignShare{&bad, shares[1], shares[2]}); !errors.Is(err, ErrInvalidSig) {
		t.Fatalf("tampered share: %v", err)
	}
	if _, err := Combine(ks[1].PublicKey(), d, []*SignShare{shares[0], shares[0], shares[2]}); !errors.Is(err, ErrShares) {
		t.Fatal("duplicate share accepted")
	}
	if sig, err := Combine(ks[1].PublicKey(), d, shares); err != nil || !stdecdsa.VerifyASN1(ks[1].PublicKey(), d, sig) {
		t.Fatalf("honest shares: %v", err)
	}
}

func TestFormattingRedacts(t *testing.T) {
	ks := confirmedShares(t)
	ss := newSigners(t, ks, SignerConfig{})
	ps, err := runPresign(t, ss, []int{1, 2, 3}, randomSID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	x := fmt.Sprintf("%x", ks[1].x.Bytes())
	phi := fmt.Sprintf("%x", ps[1].phi.Bytes())
	for _, s := range []string{fmt.Sprint(ks[1]), fmt.Sprintf("%+v", ks[1]), fmt.Sprintf("%#v", ks[1]),
		fmt.Sprint(ps[1]), fmt.Sprintf("%+v", ps[1]), fmt.Sprintf("%#v", ps[1])} {
		if strings.Contains(s, x) || strings.Contains(s, phi) || strings.Contains(s, x[:16]) || strings.Contains(s, phi[:16]) {
			t.Fatalf("formatting leaks a secret: %s", s)
		}
	}
	if !strings.Contains(fmt.Sprint(ks[1]), "party 1") {
		t.Fatal("unexpected format")
	}
}
