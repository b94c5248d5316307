package p384

import (
	"encoding/binary"
	"math/bits"
)

// This file is the constant-time scalar field Z/nZ for the P-384 group order
// n, in six 64-bit little-endian limbs and Montgomery form (R = 2^384).
//
// Why it is constant time:
//   - every operation runs a fixed sequence of instructions for the fixed
//     size of six limbs: the loops have constant trip counts and there are no
//     branches, table lookups or early exits that depend on limb values;
//   - carries and borrows are computed with math/bits.Add64, Sub64 and Mul64,
//     which the Go compiler lowers to ADC/SBB/MUL on amd64 and arm64 (they
//     are specified to run in time independent of their inputs);
//   - reductions (the final subtraction of Montgomery multiplication,
//     the modular corrections of addition and subtraction, the single
//     reduction of hash output) always compute both candidates and pick one
//     with an all-ones/all-zeros mask derived arithmetically from a carry or
//     borrow bit (x&m | y&^m), never with an if;
//   - the multiplications by the all-ones top limbs of n in the Montgomery
//     reduction are replaced by a subtraction and a negation (mulAllOnesAdd),
//     with the m = 0 case handled by an arithmetic mask, not a branch;
//   - decoding compares against n with a full-width subtraction whose borrow
//     is the result; only the public fact "rejected" leaves the function.
//
// The only branches on data are on public values: the exponent n−2 in
// felInverse is a public constant.
//
// The representation of x is x·R mod n, fully reduced (< n) after every
// operation, so equality and zero tests compare limbs directly.

// fe is a field element in Montgomery form, fully reduced.
type fe [6]uint64

// The limbs of n, little-endian.
const (
	feN0 = 0xecec196accc52973
	feN1 = 0x581a0db248b0a77a
	feN2 = 0xc7634d81f4372ddf
	feN3 = 0xffffffffffffffff
	feN4 = 0xffffffffffffffff
	feN5 = 0xffffffffffffffff
)

// feNInv is −n^(−1) mod 2^64.
const feNInv = 0x6ed46089e88fdc45

// feN returns n in limbs.
func feN() fe { return fe{feN0, feN1, feN2, feN3, feN4, feN5} }

// feR2 returns R^2 mod n = 2^768 mod n, used to enter Montgomery form.
func feR2() fe {
	return fe{
		0x2d319b2419b409a9, 0xff3d81e5df1aa419, 0xbc3e483afcb82947,
		0xd40d49174aab1cc5, 0x3fb05b7a28266895, 0x0c84ee012b39bf21,
	}
}

// feOne returns the plain integer 1 (not Montgomery form), used to leave it.
func feOne() fe { return fe{1} }

// felSelect sets z = a if mask is all ones and z = b if mask is zero.
func felSelect(z, a, b *fe, mask uint64) {
	for i := range z {
		z[i] = (a[i] & mask) | (b[i] &^ mask)
	}
}

// felSubN returns x − n and the borrow (1 if x < n).
func felSubN(x *fe) (fe, uint64) {
	var d fe
	var b uint64
	d[0], b = bits.Sub64(x[0], feN0, 0)
	d[1], b = bits.Sub64(x[1], feN1, b)
	d[2], b = bits.Sub64(x[2], feN2, b)
	d[3], b = bits.Sub64(x[3], feN3, b)
	d[4], b = bits.Sub64(x[4], feN4, b)
	d[5], b = bits.Sub64(x[5], feN5, b)
	return d, b
}

// mulAdd returns a·b + t + c as (hi, lo); it cannot overflow 128 bits.
func mulAdd(a, b, t, c uint64) (hi, lo uint64) {
	hi, lo = bits.Mul64(a, b)
	var k uint64
	lo, k = bits.Add64(lo, t, 0)
	hi += k
	lo, k = bits.Add64(lo, c, 0)
	hi += k
	return hi, lo
}

// mulAllOnesAdd returns m·(2^64−1) + t + c as (hi, lo) without a
// multiplication, given nz = 1 if m ≠ 0 and 0 otherwise: m·(2^64−1) =
// (m − nz)·2^64 + (−m mod 2^64). The top three limbs of n are all ones.
func mulAllOnesAdd(m, nz, t, c uint64) (hi, lo uint64) {
	hi, lo = m-nz, -m
	var k uint64
	lo, k = bits.Add64(lo, t, 0)
	hi += k
	lo, k = bits.Add64(lo, c, 0)
	hi += k
	return hi, lo
}

// felMontMul sets z = x·y·R^(−1) mod n for x, y < n (CIOS: one word of y
// per round, each round followed by a one-word Montgomery reduction). z may
// alias x or y.
func felMontMul(z, x, y *fe) {
	x0, x1, x2, x3, x4, x5 := x[0], x[1], x[2], x[3], x[4], x[5]
	var t0, t1, t2, t3, t4, t5, t6 uint64
	for i := 0; i < 6; i++ {
		yi := y[i]
		// t += x·y[i]
		var c, k, t7 uint64
		c, t0 = mulAdd(x0, yi, t0, 0)
		c, t1 = mulAdd(x1, yi, t1, c)
		c, t2 = mulAdd(x2, yi, t2, c)
		c, t3 = mulAdd(x3, yi, t3, c)
		c, t4 = mulAdd(x4, yi, t4, c)
		c, t5 = mulAdd(x5, yi, t5, c)
		t6, t7 = bits.Add64(t6, c, 0)
		// t = (t + m·n) / 2^64 with m chosen so the low word vanishes.
		m := t0 * feNInv
		nz := (m | -m) >> 63
		c, _ = mulAdd(m, feN0, t0, 0)
		c, t0 = mulAdd(m, feN1, t1, c)
		c, t1 = mulAdd(m, feN2, t2, c)
		c, t2 = mulAllOnesAdd(m, nz, t3, c)
		c, t3 = mulAllOnesAdd(m, nz, t4, c)
		c, t4 = mulAllOnesAdd(m, nz, t5, c)
		t5, k = bits.Add64(t6, c, 0)
		t6 = t7 + k
	}
	// t < 2n: subtract n when t ≥ n, i.e. when t6 = 1 or there is no borrow.
	var d0, d1, d2, d3, d4, d5, b uint64
	d0, b = bits.Sub64(t0, feN0, 0)
	d1, b = bits.Sub64(t1, feN1, b)
	d2, b = bits.Sub64(t2, feN2, b)
	d3, b = bits.Sub64(t3, feN3, b)
	d4, b = bits.Sub64(t4, feN4, b)
	d5, b = bits.Sub64(t5, feN5, b)
	m := -(t6 | (b ^ 1))
	z[0] = (d0 & m) | (t0 &^ m)
	z[1] = (d1 & m) | (t1 &^ m)
	z[2] = (d2 & m) | (t2 &^ m)
	z[3] = (d3 & m) | (t3 &^ m)
	z[4] = (d4 & m) | (t4 &^ m)
	z[5] = (d5 & m) | (t5 &^ m)
}

// felAdd sets z = x + y mod n for x, y < n.
func felAdd(z, x, y *fe) {
	var s0, s1, s2, s3, s4, s5, c uint64
	s0, c = bits.Add64(x[0], y[0], 0)
	s1, c = bits.Add64(x[1], y[1], c)
	s2, c = bits.Add64(x[2], y[2], c)
	s3, c = bits.Add64(x[3], y[3], c)
	s4, c = bits.Add64(x[4], y[4], c)
	s5, c = bits.Add64(x[5], y[5], c)
	// Subtract n when the sum is ≥ n: when it carried out or there is no
	// borrow.
	var d0, d1, d2, d3, d4, d5, b uint64
	d0, b = bits.Sub64(s0, feN0, 0)
	d1, b = bits.Sub64(s1, feN1, b)
	d2, b = bits.Sub64(s2, feN2, b)
	d3, b = bits.Sub64(s3, feN3, b)
	d4, b = bits.Sub64(s4, feN4, b)
	d5, b = bits.Sub64(s5, feN5, b)
	m := -(c | (b ^ 1))
	z[0] = (d0 & m) | (s0 &^ m)
	z[1] = (d1 & m) | (s1 &^ m)
	z[2] = (d2 & m) | (s2 &^ m)
	z[3] = (d3 & m) | (s3 &^ m)
	z[4] = (d4 & m) | (s4 &^ m)
	z[5] = (d5 & m) | (s5 &^ m)
}

// felSub sets z = x − y mod n for x, y < n.
func felSub(z, x, y *fe) {
	var d0, d1, d2, d3, d4, d5, b uint64
	d0, b = bits.Sub64(x[0], y[0], 0)
	d1, b = bits.Sub64(x[1], y[1], b)
	d2, b = bits.Sub64(x[2], y[2], b)
	d3, b = bits.Sub64(x[3], y[3], b)
	d4, b = bits.Sub64(x[4], y[4], b)
	d5, b = bits.Sub64(x[5], y[5], b)
	// Add n back, masked by the borrow.
	m := -b
	var c uint64
	d0, c = bits.Add64(d0, feN0&m, 0)
	d1, c = bits.Add64(d1, feN1&m, c)
	d2, c = bits.Add64(d2, feN2&m, c)
	d3, c = bits.Add64(d3, feN3&m, c)
	d4, c = bits.Add64(d4, feN4&m, c)
	d5, _ = bits.Add64(d5, feN5&m, c)
	z[0], z[1], z[2], z[3], z[4], z[5] = d0, d1, d2, d3, d4, d5
}

// felLoad reads a 48-byte big-endian integer (which may be ≥ n).
func felLoad(b *[ScalarSize]byte) fe {
	var x fe
	for i := range x {
		x[i] = binary.BigEndian.Uint64(b[ScalarSize-8*(i+1):])
	}
	return x
}

// felStore writes x (a plain integer < 2^384) as 48 bytes big-endian.
func felStore(b []byte, x *fe) {
	for i := range x {
		binary.BigEndian.PutUint64(b[ScalarSize-8*(i+1):], x[i])
	}
}

// felFromBytes decodes a canonical 48-byte encoding into Montgomery form. It
// returns ok = 0 (and leaves z unchanged) if the value is ≥ n.
func felFromBytes(z *fe, b *[ScalarSize]byte) (ok uint64) {
	x := felLoad(b)
	_, borrow := felSubN(&x)
	var m fe
	r2 := feR2()
	felMontMul(&m, &x, &r2)
	felSelect(z, &m, z, -borrow)
	clear(x[:])
	clear(m[:])
	return borrow
}

// felLoadReduced reads any 48-byte big-endian value and reduces it mod n
// once (sufficient since 2^384 < 2n), without entering Montgomery form.
func felLoadReduced(z *fe, b *[ScalarSize]byte) {
	x5 := binary.BigEndian.Uint64(b[0:])
	x4 := binary.BigEndian.Uint64(b[8:])
	x3 := binary.BigEndian.Uint64(b[16:])
	x2 := binary.BigEndian.Uint64(b[24:])
	x1 := binary.BigEndian.Uint64(b[32:])
	x0 := binary.BigEndian.Uint64(b[40:])
	var d0, d1, d2, d3, d4, d5, br uint64
	d0, br = bits.Sub64(x0, feN0, 0)
	d1, br = bits.Sub64(x1, feN1, br)
	d2, br = bits.Sub64(x2, feN2, br)
	d3, br = bits.Sub64(x3, feN3, br)
	d4, br = bits.Sub64(x4, feN4, br)
	d5, br = bits.Sub64(x5, feN5, br)
	m := br - 1 // all ones iff x ≥ n (no borrow)
	z[0] = (d0 & m) | (x0 &^ m)
	z[1] = (d1 & m) | (x1 &^ m)
	z[2] = (d2 & m) | (x2 &^ m)
	z[3] = (d3 & m) | (x3 &^ m)
	z[4] = (d4 & m) | (x4 &^ m)
	z[5] = (d5 & m) | (x5 &^ m)
}

// felFromReducedBytes decodes any 48-byte value, reducing it mod n once
// (sufficient since 2^384 < 2n), into Montgomery form.
func felFromReducedBytes(z *fe, b *[ScalarSize]byte) {
	var x fe
	felLoadReduced(&x, b)
	r2 := feR2()
	felMontMul(z, &x, &r2)
	clear(x[:])
}

// felToBytes writes the canonical 48-byte encoding of z into b.
func felToBytes(b []byte, z *fe) {
	var x fe
	one := feOne()
	felMontMul(&x, z, &one)
	felStore(b, &x)
	clear(x[:])
}

// felIsZero returns 1 if z = 0 and 0 otherwise.
func felIsZero(z *fe) uint64 {
	var acc uint64
	for i := range z {
		acc |= z[i]
	}
	// acc | −acc has its top bit set iff acc ≠ 0.
	return ((acc | -acc) >> 63) ^ 1
}

// felEqual returns 1 if x = y and 0 otherwise.
func felEqual(x, y *fe) uint64 {
	var acc uint64
	for i := range x {
		acc |= x[i] ^ y[i]
	}
	return ((acc | -acc) >> 63) ^ 1
}

// felInverse sets z = x^(n−2) = x^(−1) mod n (0 for x = 0) by left-to-right
// square and multiply over the bits of the public exponent n−2.
func felInverse(z, x *fe) {
	e := feN()
	e[0] -= 2 // n is odd and its low limb is > 2: no borrow
	var acc fe
	r2, one := feR2(), feOne()
	felMontMul(&acc, &one, &r2) // R mod n: Montgomery form of 1
	base := *x
	for i := 5; i >= 0; i-- {
		for k := 63; k >= 0; k-- {
			felMontMul(&acc, &acc, &acc)
			if (e[i]>>uint(k))&1 == 1 { // public exponent bit
				felMontMul(&acc, &acc, &base)
			}
		}
	}
	*z = acc
	clear(base[:])
	clear(acc[:])
}
