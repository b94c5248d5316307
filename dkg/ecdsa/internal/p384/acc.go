package p384

import "math/bits"

// MaxAccTerms is the largest number of products an Acc may hold.
const MaxAccTerms = 1 << 20

// Acc is an unreduced sum Σ s_i·a_i of products of a Scalar and a Plain, for
// the long inner products of the vector OLE (Σ_j g_j·v_j over 640 gadget
// rows). AddMul adds the full 768-bit schoolbook product of the limbs into a
// 13-limb accumulator; Reduce performs the only Montgomery reduction, so an
// inner product of k terms costs k half-multiplications plus one reduction
// instead of k Montgomery multiplications and k modular additions. Constant
// time like field.go: fixed loops, carries through math/bits, the final
// corrections by masks. The zero value is the empty sum.
type Acc struct {
	t [13]uint64
	n int // number of products (public)
}

// AddMul adds s·a. It panics after MaxAccTerms products (a programming
// error: the bound keeps the sum within 13 limbs and Reduce exact).
func (acc *Acc) AddMul(s *Scalar, a *Plain) {
	if acc.n >= MaxAccTerms {
		panic("p384: Acc holds too many products")
	}
	acc.n++
	z := mul6(&s.v, &a.v)
	t := &acc.t
	var c uint64
	for i := range z {
		t[i], c = bits.Add64(t[i], z[i], c)
	}
	t[12] += c
	clear(z[:])
}

// Reduce sets p to Σ s_i·a_i mod n (the value MulScalar and Add would have
// produced) and returns p; acc is unchanged.
//
// The sum T = Σ (s_i·R mod n)·a_i is below MaxAccTerms·n² < 2^788. Six rounds
// of word-wise Montgomery reduction give r = (T + M·n)/2^384 ≡ T·R⁻¹ with
// r < T/2^384 + n < 2^405, i.e. six limbs plus a top limb h < 2^21. Since
// 2^384 ≡ c = 2^384 − n < 2^190 (mod n), r ≡ low + h·c, which is below
// 2^384 + 2^211; if that carries out of 384 bits, the remainder is below
// 2^211 and adding c once more cannot carry. The result is then < 2^384 < 2n
// and one masked subtraction of n finishes.
func (acc *Acc) Reduce(p *Plain) *Plain {
	t := acc.t
	n := feN()
	for i := 0; i < 6; i++ {
		m := t[i] * feNInv
		var c uint64
		for j := 0; j < 6; j++ {
			hi, lo := bits.Mul64(m, n[j])
			var k uint64
			lo, k = bits.Add64(lo, t[i+j], 0)
			hi += k
			lo, k = bits.Add64(lo, c, 0)
			hi += k
			t[i+j], c = lo, hi
		}
		for j := i + 6; j < len(t); j++ {
			t[j], c = bits.Add64(t[j], c, 0)
		}
	}
	// c = 2^384 − n: the two's complement of n in 384 bits (low limb of n
	// is nonzero, so −n0 is exact and there is no carry into limb 1).
	c0, c1, c2 := ^uint64(feN0)+1, ^uint64(feN1), ^uint64(feN2)
	h := t[12]
	// h·c (h < 2^21, c < 2^190: four limbs).
	p0h, p0 := bits.Mul64(h, c0)
	p1h, p1 := bits.Mul64(h, c1)
	p2h, p2 := bits.Mul64(h, c2)
	var k uint64
	p1, k = bits.Add64(p1, p0h, 0)
	p2, k = bits.Add64(p2, p1h, k)
	p3 := p2h + k
	var v [6]uint64
	v[0], k = bits.Add64(t[6], p0, 0)
	v[1], k = bits.Add64(t[7], p1, k)
	v[2], k = bits.Add64(t[8], p2, k)
	v[3], k = bits.Add64(t[9], p3, k)
	v[4], k = bits.Add64(t[10], 0, k)
	v[5], k = bits.Add64(t[11], 0, k)
	// Fold the carry k once more: add k·c.
	mk := -k
	v[0], k = bits.Add64(v[0], c0&mk, 0)
	v[1], k = bits.Add64(v[1], c1&mk, k)
	v[2], k = bits.Add64(v[2], c2&mk, k)
	v[3], k = bits.Add64(v[3], 0, k)
	v[4], k = bits.Add64(v[4], 0, k)
	v[5], _ = bits.Add64(v[5], 0, k)
	x := fe(v)
	d, borrow := felSubN(&x)
	felSelect(&p.v, &x, &d, -borrow)
	clear(t[:])
	clear(x[:])
	clear(d[:])
	clear(v[:])
	return p
}

// Zeroize clears the accumulator and its product count.
func (acc *Acc) Zeroize() {
	clear(acc.t[:])
	acc.n = 0
}

// mul6 returns the 768-bit product x·y of two six-limb values (operand
// scanning, fully unrolled so the limbs stay in registers).
func mul6(x, y *fe) (z [12]uint64) {
	x0, x1, x2, x3, x4, x5 := x[0], x[1], x[2], x[3], x[4], x[5]
	var z0, z1, z2, z3, z4, z5, z6, z7, z8, z9, z10, z11, c uint64
	yi := y[0]
	c, z0 = mulAdd(x0, yi, z0, 0)
	c, z1 = mulAdd(x1, yi, z1, c)
	c, z2 = mulAdd(x2, yi, z2, c)
	c, z3 = mulAdd(x3, yi, z3, c)
	c, z4 = mulAdd(x4, yi, z4, c)
	c, z5 = mulAdd(x5, yi, z5, c)
	z6 = c
	yi = y[1]
	c, z1 = mulAdd(x0, yi, z1, 0)
	c, z2 = mulAdd(x1, yi, z2, c)
	c, z3 = mulAdd(x2, yi, z3, c)
	c, z4 = mulAdd(x3, yi, z4, c)
	c, z5 = mulAdd(x4, yi, z5, c)
	c, z6 = mulAdd(x5, yi, z6, c)
	z7 = c
	yi = y[2]
	c, z2 = mulAdd(x0, yi, z2, 0)
	c, z3 = mulAdd(x1, yi, z3, c)
	c, z4 = mulAdd(x2, yi, z4, c)
	c, z5 = mulAdd(x3, yi, z5, c)
	c, z6 = mulAdd(x4, yi, z6, c)
	c, z7 = mulAdd(x5, yi, z7, c)
	z8 = c
	yi = y[3]
	c, z3 = mulAdd(x0, yi, z3, 0)
	c, z4 = mulAdd(x1, yi, z4, c)
	c, z5 = mulAdd(x2, yi, z5, c)
	c, z6 = mulAdd(x3, yi, z6, c)
	c, z7 = mulAdd(x4, yi, z7, c)
	c, z8 = mulAdd(x5, yi, z8, c)
	z9 = c
	yi = y[4]
	c, z4 = mulAdd(x0, yi, z4, 0)
	c, z5 = mulAdd(x1, yi, z5, c)
	c, z6 = mulAdd(x2, yi, z6, c)
	c, z7 = mulAdd(x3, yi, z7, c)
	c, z8 = mulAdd(x4, yi, z8, c)
	c, z9 = mulAdd(x5, yi, z9, c)
	z10 = c
	yi = y[5]
	c, z5 = mulAdd(x0, yi, z5, 0)
	c, z6 = mulAdd(x1, yi, z6, c)
	c, z7 = mulAdd(x2, yi, z7, c)
	c, z8 = mulAdd(x3, yi, z8, c)
	c, z9 = mulAdd(x4, yi, z9, c)
	c, z10 = mulAdd(x5, yi, z10, c)
	z11 = c
	return [12]uint64{z0, z1, z2, z3, z4, z5, z6, z7, z8, z9, z10, z11}
}
