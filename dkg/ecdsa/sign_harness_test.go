package ecdsa

import (
	"crypto/rand"
	"crypto/sha512"
	"fmt"
	"sync"
	"testing"
)

func newSigners(t testing.TB, ks [Parties + 1]*KeyShare, cfg SignerConfig) [Parties + 1]*Signer {
	t.Helper()
	var out [Parties + 1]*Signer
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	for i := 1; i <= Parties; i++ {
		s, err := NewSigner(ks[i], cfg)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = s
	}
	return out
}

type presignHook func(round int, m any)

// partyError records which honest party reported an error.
type partyError struct {
	party int
	err   error
}

func (e *partyError) Error() string { return fmt.Sprintf("party %d: %v", e.party, e.err) }
func (e *partyError) Unwrap() error { return e.err }

func randomSID() (sid [32]byte) {
	rand.Read(sid[:])
	return
}

// runPresign runs one presigning session among set; messages go through
// their wire encoding and hook may tamper with them.
func runPresign(t testing.TB, ss [Parties + 1]*Signer, set []int, sid [32]byte, hook presignHook) ([Parties + 1]*Presignature, error) {
	t.Helper()
	hook = serialize(hook)
	var out [Parties + 1]*Presignature
	var sess [Parties + 1]*PresignSession
	for _, i := range set {
		p, err := ss[i].NewPresign(sid, set)
		if err != nil {
			return out, &partyError{i, err}
		}
		sess[i] = p
	}
	par := func(f func(i int) error) error {
		var wg sync.WaitGroup
		var errs [Parties + 1]error
		for _, i := range set {
			wg.Add(1)
			go func() { defer wg.Done(); errs[i] = f(i) }()
		}
		wg.Wait()
		for _, i := range set {
			if errs[i] != nil {
				return &partyError{i, errs[i]}
			}
		}
		return nil
	}
	var m1 [Parties + 1][]*PresignRound1
	if err := par(func(i int) (err error) { m1[i], err = sess[i].Round1(); return }); err != nil {
		return out, err
	}
	in1 := func(to int) (o []*PresignRound1) {
		for _, j := range set {
			for _, m := range m1[j] {
				if m.To == to {
					m := roundtrip(t, m, new(PresignRound1))
					if hook != nil {
						hook(1, m)
					}
					o = append(o, m)
				}
			}
		}
		return
	}
	var m2 [Parties + 1][]*PresignRound2
	if err := par(func(i int) (err error) { m2[i], err = sess[i].Round2(in1(i)); return }); err != nil {
		return out, err
	}
	in2 := func(to int) (o []*PresignRound2) {
		for _, j := range set {
			for _, m := range m2[j] {
				if m.To == to {
					m := roundtrip(t, m, new(PresignRound2))
					if hook != nil {
						hook(2, m)
					}
					o = append(o, m)
				}
			}
		}
		return
	}
	err := par(func(i int) (err error) { out[i], err = sess[i].Finalize(in2(i)); return })
	return out, err
}

func signAll(t testing.TB, ps [Parties + 1]*Presignature, set []int, digest []byte) []*SignShare {
	t.Helper()
	var shares []*SignShare
	for _, i := range set {
		sh, err := Sign(ps[i], digest)
		if err != nil {
			t.Fatalf("party %d Sign: %v", i, err)
		}
		shares = append(shares, roundtrip(t, sh, new(SignShare)))
	}
	return shares
}

var (
	confirmOnce sync.Once
	confirmErr  error
)

// confirmedShares returns the shared DKG output after the ten confirmation
// signatures were produced and checked by every party.
func confirmedShares(t testing.TB) [Parties + 1]*KeyShare {
	t.Helper()
	ks := testShares(t)
	confirmOnce.Do(func() { confirmErr = confirm(t, ks) })
	if confirmErr != nil {
		t.Fatalf("key confirmation: %v", confirmErr)
	}
	return ks
}

func confirm(t testing.TB, ks [Parties + 1]*KeyShare) error {
	ss := newSigners(t, ks, SignerConfig{})
	var sigs [][]byte
	for _, set := range Subsets() {
		ps, err := runPresign(t, ss, set, randomSID(), nil)
		if err != nil {
			return err
		}
		digest := ConfirmationDigest(ks[1].KeyID(), set)
		sig, err := Combine(ks[1].PublicKey(), digest, signAll(t, ps, set, digest))
		if err != nil {
			return err
		}
		sigs = append(sigs, sig)
	}
	for i := 1; i <= Parties; i++ {
		if err := ks[i].ConfirmKey(sigs); err != nil {
			return err
		}
	}
	return nil
}

func sha384(m []byte) []byte { h := sha512.Sum384(m); return h[:] }
