package mldsa

import (
	"crypto/rand"
	"errors"
	"testing"
)

// attempt runs one signing attempt with all signers in process and returns
// the signature or ErrNoValidSlot.
func attempt(t testing.TB, pk *PublicKey, shares []*KeyShare, signers []int, mu [MuSize]byte) ([]byte, error) {
	t.Helper()
	cfg := SessionConfig{Signers: signers, Mu: mu}
	rand.Read(cfg.SessionID[:])
	p := shares[signers[0]].Params()
	sess := make([]*Session, len(signers))
	cmts := make([]*Commitment, len(signers))
	for i, id := range signers {
		st, err := shares[id].Round1(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		sess[i], cmts[i], err = shares[id].NewSession(st, cfg)
		if err != nil {
			t.Fatal(err)
		}
	}
	revs := make([]*Reveal, len(signers))
	for i := range signers {
		var err error
		if revs[i], err = sess[i].Round2(cmts); err != nil {
			t.Fatal(err)
		}
	}
	resps := make([]*Response, len(signers))
	for i := range signers {
		var err error
		if resps[i], err = sess[i].Round3(revs); err != nil {
			t.Fatal(err)
		}
	}
	sig, err := Combine(p, pk, cfg, cmts, revs, resps)
	// CombineChecked agrees with Combine on every honest attempt.
	if sig2, err2 := CombineChecked(p, pk, cfg, cmts, revs, resps); string(sig2) != string(sig) || !errors.Is(err2, err) {
		t.Fatalf("CombineChecked returned %x, %v where Combine returned %x, %v", sig2, err2, sig, err)
	}
	return sig, err
}

// sign runs attempts until one succeeds (at most 40) and returns the
// signature and the number of attempts.
func sign(t testing.TB, pk *PublicKey, shares []*KeyShare, signers []int, msg, ctx []byte) ([]byte, int) {
	t.Helper()
	mu, err := pk.Mu(msg, ctx)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 40; n++ {
		sig, err := attempt(t, pk, shares, signers, mu)
		if err == nil {
			return sig, n
		}
		if !errors.Is(err, ErrNoValidSlot) {
			t.Fatal(err)
		}
	}
	t.Fatalf("no signature after 40 attempts for signers %v", signers)
	return nil, 0
}

// setsOf lists the t-subsets of {0..n-1}.
func setsOf(t, n int) [][]int {
	var out [][]int
	for m := 0; m < 1<<n; m++ {
		var s []int
		for i := 0; i < n; i++ {
			if m&(1<<i) != 0 {
				s = append(s, i)
			}
		}
		if len(s) == t {
			out = append(out, s)
		}
	}
	return out
}
