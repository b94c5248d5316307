package p384

import (
	"crypto/rand"
	"math/big"
	"testing"
)

// accReference computes Σ s_i·a_i mod n with math/big from the encodings.
func accReference(ss []*Scalar, as []*Plain) *big.Int {
	sum := new(big.Int)
	for i := range ss {
		s := toBig(ss[i])
		var b [ScalarSize]byte
		as[i].PutBytes(b[:])
		sum.Add(sum, new(big.Int).Mul(s, new(big.Int).SetBytes(b[:])))
	}
	return sum.Mod(sum, nBig)
}

func plainBig(p *Plain) *big.Int {
	var b [ScalarSize]byte
	p.PutBytes(b[:])
	return new(big.Int).SetBytes(b[:])
}

func TestAccMatchesMulScalarAndBig(t *testing.T) {
	edges := edgeValues()
	for _, k := range []int{0, 1, 2, 3, 640, 1000} {
		ss := make([]*Scalar, k)
		as := make([]*Plain, k)
		var acc Acc
		var want Plain
		for i := 0; i < k; i++ {
			var sb, ab []byte
			if i < len(edges)*len(edges) && k < 1000 {
				sb, ab = edges[i%len(edges)], edges[(i/len(edges))%len(edges)]
			} else {
				sb, ab = randomBelowN(t), randomBelowN(t)
			}
			ss[i] = mustScalar(t, sb)
			as[i] = new(Plain)
			if err := as[i].SetBytes(ab); err != nil {
				t.Fatal(err)
			}
			acc.AddMul(ss[i], as[i])
			var prod Plain
			prod.MulScalar(ss[i], as[i])
			want.Add(&want, &prod)
		}
		var got Plain
		acc.Reduce(&got)
		if got.v != want.v {
			t.Fatalf("%d terms: Acc differs from MulScalar+Add", k)
		}
		if plainBig(&got).Cmp(accReference(ss, as)) != 0 {
			t.Fatalf("%d terms: Acc differs from math/big", k)
		}
		// Reduce does not consume the accumulator.
		var again Plain
		if acc.Reduce(&again).v != got.v {
			t.Fatal("Reduce changed the accumulator")
		}
	}
}

// TestAccExtremeLimbs drives the accumulator to its bound with the largest
// limb values the callers can produce (s.v = a.v = n−1), so every carry
// chain and both folds in Reduce are exercised, and checks the result and
// the limit against math/big.
func TestAccExtremeLimbs(t *testing.T) {
	terms := MaxAccTerms
	if testing.Short() {
		terms = 1 << 12
	}
	var s Scalar
	var a Plain
	s.v = feN()
	s.v[0]--
	a.v = s.v
	var acc Acc
	for i := 0; i < terms; i++ {
		acc.AddMul(&s, &a)
	}
	var got Plain
	acc.Reduce(&got)
	// Σ = terms·(n−1)²·R⁻¹ mod n.
	nm1 := new(big.Int).Sub(nBig, big.NewInt(1))
	rInv := new(big.Int).ModInverse(new(big.Int).Lsh(big.NewInt(1), 384), nBig)
	want := new(big.Int).Mul(nm1, nm1)
	want.Mul(want, big.NewInt(int64(terms)))
	want.Mul(want, rInv)
	want.Mod(want, nBig)
	if plainBig(&got).Cmp(want) != 0 {
		t.Fatalf("extreme sum of %d terms wrong", terms)
	}
	if terms == MaxAccTerms {
		defer func() {
			if recover() == nil {
				t.Fatal("more than MaxAccTerms products accepted")
			}
		}()
		acc.AddMul(&s, &a)
	}
}

func TestAccRandomRawLimbs(t *testing.T) {
	// Arbitrary reduced limb patterns (not only canonical encodings).
	for iter := 0; iter < 200; iter++ {
		var acc Acc
		sum := new(big.Int)
		k := 1 + iter%50
		for i := 0; i < k; i++ {
			sv, _ := rand.Int(rand.Reader, nBig)
			av, _ := rand.Int(rand.Reader, nBig)
			var s Scalar
			var a Plain
			s.v = felLoad((*[ScalarSize]byte)(sv.FillBytes(make([]byte, ScalarSize))))
			a.v = felLoad((*[ScalarSize]byte)(av.FillBytes(make([]byte, ScalarSize))))
			acc.AddMul(&s, &a)
			sum.Add(sum, new(big.Int).Mul(sv, av))
		}
		rInv := new(big.Int).ModInverse(new(big.Int).Lsh(big.NewInt(1), 384), nBig)
		sum.Mul(sum, rInv).Mod(sum, nBig)
		var got Plain
		if plainBig(acc.Reduce(&got)).Cmp(sum) != 0 {
			t.Fatal("random sum wrong")
		}
		acc.Zeroize()
		if acc.Reduce(&got).v != (fe{}) {
			t.Fatal("Zeroize left a value")
		}
	}
}

func BenchmarkAccAddMul(b *testing.B) {
	x, y := benchScalar(), benchScalar()
	var p Plain
	p.SetScalar(y)
	var acc Acc
	cpuBench(b, func() {
		if acc.n == MaxAccTerms {
			acc.Zeroize()
		}
		acc.AddMul(x, &p)
	})
}

func BenchmarkPlainMulScalarAdd(b *testing.B) {
	x, y := benchScalar(), benchScalar()
	var p, q, r Plain
	p.SetScalar(y)
	cpuBench(b, func() { q.MulScalar(x, &p); r.Add(&r, &q) })
}
