package ecdsa

import (
	"bytes"
	"crypto/elliptic"
	"math/big"
	"testing"

	"github.com/cloudflare/circl/group"
	"github.com/cloudflare/circl/secretsharing"
)

var nBig = elliptic.P384().Params().N

// reconstructForTest interpolates the secret at zero from the shares of set.
// It exists only in tests: production code has no way to reconstruct the key.
func reconstructForTest(ks [Parties + 1]*KeyShare, set []int) *big.Int {
	sk := new(big.Int)
	for _, i := range set {
		num, den := big.NewInt(1), big.NewInt(1)
		for _, j := range set {
			if j != i {
				num.Mul(num, big.NewInt(int64(j)))
				den.Mul(den, big.NewInt(int64(j-i)))
			}
		}
		den.Mod(den, nBig)
		l := num.Mul(num, den.ModInverse(den, nBig))
		x := new(big.Int).SetBytes(ks[i].x.Bytes())
		sk.Add(sk, l.Mul(l, x))
	}
	return sk.Mod(sk, nBig)
}

func pubFromBig(sk *big.Int) []byte {
	x, y := elliptic.P384().ScalarBaseMult(sk.FillBytes(make([]byte, 48))) //nolint:staticcheck // test oracle
	return elliptic.Marshal(elliptic.P384(), x, y)                         //nolint:staticcheck
}

func TestLagrangeReconstructionMatchesPublicKey(t *testing.T) {
	ks := testShares(t)
	pk := ks[1].PublicKeyBytes()
	var ref *big.Int
	for _, set := range Subsets() {
		sk := reconstructForTest(ks, set)
		if !bytes.Equal(pubFromBig(sk), pk) {
			t.Fatalf("subset %v does not reconstruct the key", set)
		}
		if ref == nil {
			ref = sk
		} else if ref.Cmp(sk) != 0 {
			t.Fatal("subsets disagree")
		}
		// circl's Shamir recovery as an independent oracle.
		g := group.P384
		var shares []secretsharing.Share
		for _, i := range set {
			v := g.NewScalar()
			if err := v.UnmarshalBinary(ks[i].x.Bytes()); err != nil {
				t.Fatal(err)
			}
			shares = append(shares, secretsharing.Share{ID: g.NewScalar().SetUint64(uint64(i)), Value: v})
		}
		rec, err := secretsharing.Recover(Threshold-1, shares)
		if err != nil {
			t.Fatal(err)
		}
		rb, _ := rec.MarshalBinary()
		if new(big.Int).SetBytes(rb).Cmp(sk) != 0 {
			t.Fatal("circl recovery differs")
		}
		pkc, _ := g.NewElement().MulGen(rec).MarshalBinary()
		if !bytes.Equal(pkc, pk) {
			t.Fatal("circl: recovered key does not match PK")
		}
	}
	// Any two shares interpolate (as a line) to something else.
	for a := 1; a <= Parties; a++ {
		for b := a + 1; b <= Parties; b++ {
			if bytes.Equal(pubFromBig(reconstructForTest(ks, []int{a, b})), pk) {
				t.Fatalf("two shares %d,%d reconstruct the key", a, b)
			}
		}
	}
}
