package ote

import (
	"encoding/binary"
	"math/bits"
)

// gf128 is an element of GF(2^128) = GF(2)[x]/(x^128 + x^7 + x^2 + x + 1);
// bit k of lo (k < 64) or of hi (k ≥ 64, bit k-64) is the coefficient of x^k.
type gf128 struct{ lo, hi uint64 }

func gfLoad(b []byte) gf128 {
	return gf128{lo: binary.LittleEndian.Uint64(b[0:8]), hi: binary.LittleEndian.Uint64(b[8:16])}
}

func (a gf128) store(b []byte) {
	binary.LittleEndian.PutUint64(b[0:8], a.lo)
	binary.LittleEndian.PutUint64(b[8:16], a.hi)
}

func (a gf128) xor(b gf128) gf128 { return gf128{a.lo ^ b.lo, a.hi ^ b.hi} }

// bmul64 returns the low 64 bits of the carry-less product x·y in constant
// time, with integer multiplications "with holes": each operand is split
// into four parts with one bit in every four, so that every nibble-aligned
// digit of an integer partial product counts at most 15 terms below bit 60
// and no carry can reach the next bit of the same class (bit 60's digit can
// count 16, whose carry leaves the 64-bit word). The carry-less product's
// bit is the parity of the count.
func bmul64(x, y uint64) uint64 {
	const m0, m1, m2, m3 = 0x1111111111111111, 0x2222222222222222, 0x4444444444444444, 0x8888888888888888
	x0, x1, x2, x3 := x&m0, x&m1, x&m2, x&m3
	y0, y1, y2, y3 := y&m0, y&m1, y&m2, y&m3
	z0 := (x0 * y0) ^ (x1 * y3) ^ (x2 * y2) ^ (x3 * y1)
	z1 := (x0 * y1) ^ (x1 * y0) ^ (x2 * y3) ^ (x3 * y2)
	z2 := (x0 * y2) ^ (x1 * y1) ^ (x2 * y0) ^ (x3 * y3)
	z3 := (x0 * y3) ^ (x1 * y2) ^ (x2 * y1) ^ (x3 * y0)
	return (z0 & m0) | (z1 & m1) | (z2 & m2) | (z3 & m3)
}

// clmul64 returns the 127-bit carry-less product x·y as (lo, hi). The high
// half is the low half of the product of the bit-reversed operands,
// reversed back (bits.Reverse64 is shifts and masks, constant time).
func clmul64(x, y uint64) (lo, hi uint64) {
	lo = bmul64(x, y)
	hi = bits.Reverse64(bmul64(bits.Reverse64(x), bits.Reverse64(y))) >> 1
	return lo, hi
}

// gfMul returns a·b in GF(2^128) in constant time (Karatsuba over 64-bit
// halves, then reduction by x^128 = x^7 + x^2 + x + 1). Neither operand
// needs to be public.
func gfMul(a, b gf128) gf128 {
	l0, h0 := clmul64(a.lo, b.lo)
	l2, h2 := clmul64(a.hi, b.hi)
	l1, h1 := clmul64(a.lo^a.hi, b.lo^b.hi)
	l1 ^= l0 ^ l2
	h1 ^= h0 ^ h2
	r0, r1, r2, r3 := l0, h0^l1, l2^h1, h2
	// Fold H = r3:r2 (the coefficients of x^128..x^255) into r1:r0:
	// H·x^128 = H·(x^7 + x^2 + x + 1); the bits shifted past x^127 (o) are
	// folded once more, which cannot overflow (deg o ≤ 6).
	o := r3>>63 ^ r3>>62 ^ r3>>57
	lo := r0 ^ r2 ^ r2<<1 ^ r2<<2 ^ r2<<7
	hi := r1 ^ r3 ^ (r3<<1 | r2>>63) ^ (r3<<2 | r2>>62) ^ (r3<<7 | r2>>57)
	lo ^= o ^ o<<1 ^ o<<2 ^ o<<7
	return gf128{lo: lo, hi: hi}
}
