package fips204

// Power2Round splits r in [0, q) into (r1, r0) with r = r1·2^D + r0 and
// r0 in (-2^{D-1}, 2^{D-1}] (FIPS 204 Algorithm 35).
func Power2Round(r uint32) (r1 uint32, r0 int32) {
	low := int32(r & (1<<D - 1))
	r0 = low - (int32((1<<(D-1))-low)>>31)&(1<<D)
	r1 = uint32(int32(r)-r0) >> D
	return
}

// Decompose splits r in [0, q) into (r1, r0) with r = r1·2γ2 + r0 mod q,
// r0 in (-γ2, γ2] and r1 in [0, 16), handling the wrap at q-1 as in
// FIPS 204 Algorithm 36. It runs in constant time.
func Decompose(r uint32) (r1 uint32, r0 int32) {
	m := r % (2 * Gamma2)
	r0 = int32(m) - (int32(Gamma2-m)>>31)&(2*Gamma2)
	diff := uint32(int32(r) - r0)
	x := diff ^ (Q - 1)
	top := (x - 1) >> 31 // 1 when diff == q-1
	r1 = (diff / (2 * Gamma2)) &^ (0 - top)
	r0 -= int32(top)
	return
}

// HighBits returns r1 of Decompose(r) for r in [0, q), without branches or
// divisions.
//
// With 2γ2 = 523776 = 128·4092: a = ⌈r/128⌉ and ⌊(1025·a + 2^21)/2^22⌋ is
// a rounded to the nearest multiple of 4092 (1025/2^22 ≈ 1/4092, and the
// error stays below one half over the range of a), i.e. r rounded to the
// nearest multiple of 2γ2 with ties down; the value 16 (r > q − 1 − γ2)
// wraps to 0 as Decompose requires. TestHighBits checks every r in [0, q).
func HighBits(r uint32) uint32 {
	a := (r + 127) >> 7
	a = (a*1025 + 1<<21) >> 22
	return a & 15
}

// packHighBits writes w1Encode(HighBits(p)) (FIPS 204 Algorithm 28, 128
// bytes) for p with coefficients in [0, q). It evaluates HighBits on two
// coefficients at once, one in each 32-bit half of a 64-bit word: every
// intermediate value stays below 2^28, so no carry crosses the halves.
func packHighBits(dst []byte, p *Poly) {
	const (
		two = 1 | 1<<32
		lo  = 1<<17 - 1
	)
	dst = dst[:PolyW1Size]
	for k := range dst {
		x := uint64(p[2*k]) | uint64(p[2*k+1])<<32
		a := (x + 127*two) >> 7 & (lo * two) // ⌈r/128⌉ < 2^17 per half
		a = (a*1025 + (1<<21)*two) >> 22 & (15 * two)
		dst[k] = byte(a) | byte(a>>32)<<4
	}
}

// LowBits returns r0 of Decompose(r).
func LowBits(r uint32) int32 {
	_, r0 := Decompose(r)
	return r0
}

// MakeHint reports (as 0 or 1) whether HighBits(r) ≠ HighBits(r+z)
// (FIPS 204 Algorithm 39). z and r are in [0, q).
func MakeHint(z, r uint32) uint32 {
	a := HighBits(r)
	b := HighBits(fieldAdd(r, z))
	x := a ^ b
	return (0 - x) >> 31 // 1 when x != 0
}

// UseHint returns the corrected high bits of r given hint bit h
// (FIPS 204 Algorithm 40).
func UseHint(h, r uint32) uint32 {
	r1, r0 := Decompose(r)
	if h == 0 {
		return r1
	}
	if r0 > 0 {
		return (r1 + 1) & 15
	}
	return (r1 - 1) & 15
}
