package p384

import (
	"bytes"
	"crypto/elliptic"
	"crypto/rand"
	"math/big"
	"testing"
)

var nBig = new(big.Int).SetBytes(orderBytes[:])

func toBig(s *Scalar) *big.Int { return new(big.Int).SetBytes(s.Bytes()) }

func TestOrderMatchesStdlib(t *testing.T) {
	if elliptic.P384().Params().N.Cmp(nBig) != 0 {
		t.Fatal("order constant differs from crypto/elliptic")
	}
}

func TestArithmeticAgainstBig(t *testing.T) {
	for i := 0; i < 200; i++ {
		a, _ := NewScalar().Random(rand.Reader)
		b, _ := NewScalar().Random(rand.Reader)
		A, B := toBig(a), toBig(b)
		check := func(name string, got *Scalar, want *big.Int) {
			t.Helper()
			want.Mod(want, nBig)
			if toBig(got).Cmp(want) != 0 {
				t.Fatalf("%s mismatch", name)
			}
		}
		check("add", NewScalar().Add(a, b), new(big.Int).Add(A, B))
		check("sub", NewScalar().Sub(a, b), new(big.Int).Sub(A, B))
		check("mul", NewScalar().Mul(a, b), new(big.Int).Mul(A, B))
		check("neg", NewScalar().Neg(a), new(big.Int).Neg(A))
		check("inv", NewScalar().Inverse(a), new(big.Int).ModInverse(A, nBig))
		// aliasing
		c := a.Clone()
		c.Mul(c, b)
		check("mul-alias", c, new(big.Int).Mul(A, B))
		c = a.Clone()
		c.AddMasked(b.Bytes(), 1)
		check("addmasked1", c, new(big.Int).Add(A, B))
		c = a.Clone()
		c.AddMasked(b.Bytes(), 0)
		check("addmasked0", c, new(big.Int).Set(A))
		c = a.Clone()
		c.SubMasked(b.Bytes(), 1)
		check("submasked1", c, new(big.Int).Sub(A, B))
	}
}

func TestSetBytesStrict(t *testing.T) {
	if _, err := NewScalar().SetBytes(Order()); err != ErrScalarRange {
		t.Fatalf("n accepted: %v", err)
	}
	nm1 := new(big.Int).Sub(nBig, big.NewInt(1)).FillBytes(make([]byte, 48))
	if _, err := NewScalar().SetBytes(nm1); err != nil {
		t.Fatalf("n-1 rejected: %v", err)
	}
	ff := bytes.Repeat([]byte{0xff}, 48)
	if _, err := NewScalar().SetBytes(ff); err == nil {
		t.Fatal("2^384-1 accepted")
	}
	if _, err := NewScalar().SetBytes(make([]byte, 47)); err != ErrScalarLength {
		t.Fatal("short scalar accepted")
	}
	if _, err := NewScalar().SetBytes(make([]byte, 49)); err != ErrScalarLength {
		t.Fatal("long scalar accepted")
	}
	s, err := NewScalar().SetReducedBytes(ff)
	if err != nil {
		t.Fatal(err)
	}
	want := new(big.Int).Mod(new(big.Int).SetBytes(ff), nBig)
	if toBig(s).Cmp(want) != 0 {
		t.Fatal("reduction wrong")
	}
}

func TestPointsAgainstStdlib(t *testing.T) {
	c := elliptic.P384()
	for i := 0; i < 5; i++ {
		a, _ := NewScalar().RandomNonZero(rand.Reader)
		b, _ := NewScalar().RandomNonZero(rand.Reader)
		P := BaseMul(a)
		x, y := c.ScalarBaseMult(a.Bytes())                     //nolint:staticcheck // test oracle
		if !bytes.Equal(P.Bytes(), elliptic.Marshal(c, x, y)) { //nolint:staticcheck
			t.Fatal("BaseMul differs from crypto/elliptic")
		}
		Q := Mul(P, b)
		ab := NewScalar().Mul(a, b)
		if !Equal(Q, BaseMul(ab)) {
			t.Fatal("(ab)G != b(aG)")
		}
		if !Equal(Sub(Add(P, Q), Q), P) {
			t.Fatal("add/sub")
		}
		if _, err := ParsePoint(P.Bytes()); err != nil {
			t.Fatal(err)
		}
		r, _ := XScalar(P)
		if toBig(r).Cmp(new(big.Int).Mod(x, nBig)) != 0 {
			t.Fatal("XScalar")
		}
	}
	if _, err := ParsePoint([]byte{0}); err == nil {
		t.Fatal("identity encoding accepted")
	}
	bad := Generator().Bytes()
	bad[50] ^= 1
	if _, err := ParsePoint(bad); err == nil {
		t.Fatal("off-curve point accepted")
	}
	if _, err := ParsePoint(Generator().BytesCompressed()); err == nil {
		t.Fatal("compressed encoding accepted")
	}
}
