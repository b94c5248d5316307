package p384

import (
	"bytes"
	"crypto/elliptic"
	"crypto/rand"
	"math/big"
	"testing"

	"filippo.io/nistec"
)

// challengeEdges are challenges that exercise the recoding: zero, small
// values around the window size, long runs of ones (carry chains across both
// words and into the third), alternating bits and single high bits.
func challengeEdges() []Challenge {
	var out []Challenge
	set := func(f func(c *Challenge)) { var c Challenge; f(&c); out = append(out, c) }
	set(func(c *Challenge) {})
	for _, v := range []byte{1, 2, 3, 7, 15, 16, 17, 31, 32, 33, 0x7f, 0x80, 0xff} {
		set(func(c *Challenge) { c[ChallengeSize-1] = v })
	}
	set(func(c *Challenge) {
		for i := range c {
			c[i] = 0xff
		}
	})
	set(func(c *Challenge) {
		for i := range c {
			c[i] = 0xaa
		}
	})
	set(func(c *Challenge) {
		for i := range c {
			c[i] = 0x55
		}
	})
	set(func(c *Challenge) { c[0] = 0x80 })
	set(func(c *Challenge) {
		for i := 8; i < ChallengeSize; i++ {
			c[i] = 0xff
		}
	})
	set(func(c *Challenge) { c[7] = 1 })
	return out
}

func TestWNAFRecoding(t *testing.T) {
	cs := challengeEdges()
	for i := 0; i < 500; i++ {
		c, _ := RandomChallenge(rand.Reader)
		cs = append(cs, *c)
	}
	for _, c := range cs {
		digits, n := wnaf(&c)
		sum := new(big.Int)
		last := -wnafWidth
		for i := n - 1; i >= 0; i-- {
			sum.Lsh(sum, 1)
			sum.Add(sum, big.NewInt(int64(digits[i])))
		}
		for i := 0; i < n; i++ {
			d := digits[i]
			if d == 0 {
				continue
			}
			if d%2 == 0 || d <= -16 || d >= 16 {
				t.Fatalf("%x: digit %d at %d out of form", c, d, i)
			}
			if i-last < wnafWidth {
				t.Fatalf("%x: nonzero digits at %d and %d are closer than the window", c, last, i)
			}
			last = i
		}
		if n > 0 && digits[n-1] == 0 {
			t.Fatalf("%x: leading zero digit", c)
		}
		if want := new(big.Int).SetBytes(c[:]); sum.Cmp(want) != 0 {
			t.Fatalf("%x: recoding sums to %x", c, sum)
		}
	}
}

func TestVarTimeMulChallengeMatchesScalarMult(t *testing.T) {
	cs := challengeEdges()
	rounds := 60
	if testing.Short() {
		rounds = 10
	}
	for i := 0; i < rounds; i++ {
		c, _ := RandomChallenge(rand.Reader)
		cs = append(cs, *c)
	}
	curve := elliptic.P384()
	for k, c := range cs {
		s, _ := NewScalar().Random(rand.Reader)
		P := BaseMul(s)
		if k == 0 {
			P = Generator()
		}
		got := VarTimeMulChallenge(P, &c)
		// Oracle 1: nistec's constant-time ScalarMult on the 48-byte
		// zero-padded challenge.
		var b [ScalarSize]byte
		copy(b[ScalarSize-ChallengeSize:], c[:])
		want, err := nistec.NewP384Point().ScalarMult(P, b[:])
		if err != nil {
			t.Fatal(err)
		}
		if got.Equal(want) != 1 {
			t.Fatalf("challenge %x: VarTimeMulChallenge differs from ScalarMult", c)
		}
		// Oracle 2: crypto/elliptic (math/big arithmetic) on the affine
		// coordinates.
		pb := P.Bytes()
		x, y := new(big.Int).SetBytes(pb[1:49]), new(big.Int).SetBytes(pb[49:])
		//lint:ignore SA1019 test oracle only
		ex, ey := curve.ScalarMult(x, y, c[:])
		if ex.Sign() == 0 && ey.Sign() == 0 {
			if got.IsInfinity() != 1 {
				t.Fatalf("challenge %x: expected the identity", c)
			}
			continue
		}
		//lint:ignore SA1019 test oracle only
		if !bytes.Equal(got.Bytes(), elliptic.Marshal(curve, ex, ey)) {
			t.Fatalf("challenge %x: VarTimeMulChallenge differs from crypto/elliptic", c)
		}
	}
	// The identity stays the identity.
	c, _ := RandomChallenge(rand.Reader)
	if VarTimeMulChallenge(NewIdentity(), c).IsInfinity() != 1 {
		t.Fatal("c·O ≠ O")
	}
}

func TestChallengeScalar(t *testing.T) {
	for _, c := range challengeEdges() {
		var b [ScalarSize]byte
		copy(b[ScalarSize-ChallengeSize:], c[:])
		want, err := NewScalar().SetBytes(b[:])
		if err != nil {
			t.Fatal(err)
		}
		if c.Scalar().Equal(want) != 1 {
			t.Fatalf("%x: Scalar() differs from SetBytes", c)
		}
	}
	if _, err := RandomChallenge(bytes.NewReader(make([]byte, ChallengeSize-1))); err == nil {
		t.Fatal("short randomness accepted")
	}
}

func BenchmarkVarTimeMulChallenge(b *testing.B) {
	P := BaseMul(benchScalar())
	c, _ := RandomChallenge(rand.Reader)
	cpuBench(b, func() { VarTimeMulChallenge(P, c) })
}

func BenchmarkScalarMult(b *testing.B) {
	P := BaseMul(benchScalar())
	s := benchScalar()
	cpuBench(b, func() { Mul(P, s) })
}

func BenchmarkBaseMul(b *testing.B) {
	s := benchScalar()
	cpuBench(b, func() { BaseMul(s) })
}
