package ecdsa

import (
	stdecdsa "crypto/ecdsa"
	"math/big"
	"testing"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
)

// sigS returns s of a DER Ecdsa-Sig-Value.
func sigS(t *testing.T, der []byte) *big.Int {
	t.Helper()
	in := cryptobyte.String(der)
	var seq cryptobyte.String
	r, s := new(big.Int), new(big.Int)
	if !in.ReadASN1(&seq, asn1.SEQUENCE) || !in.Empty() || !seq.ReadASN1Integer(r) || !seq.ReadASN1Integer(s) || !seq.Empty() {
		t.Fatalf("not a DER Ecdsa-Sig-Value: %x", der)
	}
	return s
}

// Combine returns the low-s form: (r, s) and (r, n-s) both verify, and
// Combine must give s <= n/2 whichever of the two the shares sum to.
// Negating every w negates s, so of the two share sets below one sums to
// a high s.
func TestCombineLowS(t *testing.T) {
	ks := confirmedShares(t)
	ss := newSigners(t, ks, SignerConfig{})
	pub := ks[1].PublicKey()
	half := new(big.Int).Rsh(new(big.Int).SetBytes(p384.Order()), 1)
	set := Subsets()[0]
	digest := sha384([]byte("low-s"))
	ps, err := runPresign(t, ss, set, randomSID(), nil)
	if err != nil {
		t.Fatal(err)
	}
	shares := signAll(t, ps, set, digest)
	negated := make([]*SignShare, len(shares))
	for i, s := range shares {
		c := *s
		w, err := p384.NewScalar().SetBytes(c.W[:])
		if err != nil {
			t.Fatal(err)
		}
		w.Neg(w).PutBytes(c.W[:])
		negated[i] = &c
	}
	var sigs [2][]byte
	for i, sh := range [][]*SignShare{shares, negated} {
		if sigs[i], err = Combine(pub, digest, sh); err != nil {
			t.Fatal(err)
		}
		if !stdecdsa.VerifyASN1(pub, digest, sigs[i]) {
			t.Fatal("combined signature does not verify")
		}
		if s := sigS(t, sigs[i]); s.Cmp(half) > 0 {
			t.Fatalf("share set %d: combined s = %x > n/2", i, s)
		}
	}
	if string(sigs[0]) != string(sigs[1]) {
		t.Fatal("the two share sets gave different low-s signatures")
	}
}

func TestIsHighSBoundary(t *testing.T) {
	n := new(big.Int).SetBytes(p384.Order())
	half := new(big.Int).Rsh(n, 1)
	for _, c := range []struct {
		v    *big.Int
		high bool
	}{
		{big.NewInt(1), false},
		{half, false},
		{new(big.Int).Add(half, big.NewInt(1)), true},
		{new(big.Int).Sub(n, big.NewInt(1)), true},
	} {
		b := make([]byte, p384.ScalarSize)
		c.v.FillBytes(b)
		if isHighS(b) != c.high {
			t.Errorf("isHighS(%x) = %v", b, !c.high)
		}
	}
}
