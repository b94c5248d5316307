// Package fips204 implements the FIPS 204 (ML-DSA-65) building blocks used by
// the threshold signer in package mldsa: arithmetic modulo q, the NTT, the
// samplers, the rounding functions, every encoding, the μ and c̃ hashes, and a
// plain (non-threshold) key generation, signing and verification.
//
// Everything here follows FIPS 204 (August 2024) for the ML-DSA-65 parameter
// set. Arithmetic on coefficients is branch-free; the package keeps no mutable
// package-level state.
package fips204

// ML-DSA-65 parameters (FIPS 204, Table 1).
const (
	N      = 256     // polynomial degree
	Q      = 8380417 // modulus 2^23 - 2^13 + 1
	D      = 13      // dropped bits of t
	K      = 6       // rows of A
	L      = 5       // columns of A
	Eta    = 4       // secret coefficient bound
	Tau    = 49      // number of ±1 in the challenge
	Beta   = Tau * Eta
	Gamma1 = 1 << 19 // mask coefficient range
	Gamma2 = (Q - 1) / 32
	Omega  = 55  // maximum number of hint bits
	Lambda = 192 // collision strength

	CTildeSize     = Lambda / 4 // 48 bytes
	TrSize         = 64
	MuSize         = 64
	SeedSize       = 32
	PublicKeySize  = SeedSize + K*PolyT1Size                                // 1952
	PrivateKeySize = 2*SeedSize + TrSize + (L+K)*PolyEtaSize + K*PolyT0Size // 4032
	SignatureSize  = CTildeSize + L*PolyZSize + Omega + K                   // 3309

	PolyT1Size  = N * 10 / 8 // 320
	PolyT0Size  = N * 13 / 8 // 416
	PolyEtaSize = N * 4 / 8  // 128
	PolyZSize   = N * 20 / 8 // 640
	PolyW1Size  = N * 4 / 8  // 128
	PolyW23Size = N * 23 / 8 // 736: full coefficients mod q, 23 bits each
)

const (
	qNegInv  = 4236238847 // -q^{-1} mod 2^32
	rModQ    = 4193792    // 2^32 mod q (Montgomery form of 1)
	r2ModQ   = 2365951    // 2^64 mod q
	nInvMont = 16382      // 256^{-1} * 2^32 mod q
)

// reduceOnce maps a in [0, 2q) to a mod q without branches.
func reduceOnce(a uint32) uint32 {
	a -= Q
	return a + (uint32(int32(a)>>31) & Q)
}

// fieldAdd returns a+b mod q for a, b in [0, q).
func fieldAdd(a, b uint32) uint32 { return reduceOnce(a + b) }

// fieldSub returns a-b mod q for a, b in [0, q).
func fieldSub(a, b uint32) uint32 { return reduceOnce(a + Q - b) }

// montMul returns a*b*2^{-32} mod q in [0, q) for a, b in [0, q).
func montMul(a, b uint32) uint32 {
	t := uint64(a) * uint64(b)
	m := uint32(t) * qNegInv
	return reduceOnce(uint32((t + uint64(m)*Q) >> 32))
}

// FieldMul returns a*b mod q for a, b in [0, q).
func FieldMul(a, b uint32) uint32 { return montMul(montMul(a, b), r2ModQ) }

// ModQ maps a signed integer with |a| < 2^31 - q to its representative in
// [0, q), without branches.
//
// With t = ⌊(a + 2^22) / 2^23⌋ (so |t| ≤ 2^8), a − t·q = (a − t·2^23) +
// t·(2^13 − 1) lies in [−2^22 − 2^21, 2^22 + 2^21) ⊂ (−q, q); one
// conditional addition of q finishes.
func ModQ(a int32) uint32 {
	t := (a + 1<<22) >> 23
	r := a - t*Q
	r += (r >> 31) & Q
	return uint32(r)
}

// Centered maps a in [0, q) to the representative in (-(q-1)/2, (q-1)/2].
func Centered(a uint32) int32 {
	x := int32(a)
	// subtract q when x > (q-1)/2
	return x - (int32((Q-1)/2-x)>>31)&Q
}
