package fips204

import (
	"crypto/sha3"
	"encoding/binary"
)

// ExpandA derives the matrix Â from ρ (FIPS 204 Algorithms 30 and 32). The
// result is returned in Montgomery form (see Matrix).
func ExpandA(rho *[SeedSize]byte) *Matrix {
	a := new(Matrix)
	var seed [SeedSize + 2]byte
	copy(seed[:], rho[:])
	var buf [168]byte // SHAKE128 rate
	for r := 0; r < K; r++ {
		for s := 0; s < L; s++ {
			seed[SeedSize] = byte(s)
			seed[SeedSize+1] = byte(r)
			h := sha3.NewSHAKE128()
			h.Write(seed[:])
			p := &a[r][s]
			j := 0
			for j < N {
				h.Read(buf[:])
				for i := 0; i+3 <= len(buf) && j < N; i += 3 {
					c := uint32(buf[i]) | uint32(buf[i+1])<<8 | uint32(buf[i+2]&0x7f)<<16
					if c < Q {
						p[j] = c
						j++
					}
				}
			}
			p.ToMont()
		}
	}
	return a
}

// RejBoundedPoly samples a polynomial with coefficients uniform in [-η, η]
// from SHAKE256(seed) (FIPS 204 Algorithm 31 with η = 4). Coefficients are
// returned as centered integers.
func RejBoundedPoly(out *[N]int8, seed []byte) {
	h := sha3.NewSHAKE256()
	h.Write(seed)
	var buf [136]byte
	j := 0
	for j < N {
		h.Read(buf[:])
		for _, b := range buf {
			if j >= N {
				break
			}
			z0, z1 := b&15, b>>4
			if z0 < 9 {
				out[j] = int8(4 - int(z0))
				j++
			}
			if z1 < 9 && j < N {
				out[j] = int8(4 - int(z1))
				j++
			}
		}
	}
}

// ExpandS derives (s1, s2) from ρ′ (FIPS 204 Algorithm 33).
func ExpandS(rhoPrime *[64]byte) (s1 [L][N]int8, s2 [K][N]int8) {
	var seed [66]byte
	copy(seed[:], rhoPrime[:])
	for r := 0; r < L; r++ {
		binary.LittleEndian.PutUint16(seed[64:], uint16(r))
		RejBoundedPoly(&s1[r], seed[:])
	}
	for r := 0; r < K; r++ {
		binary.LittleEndian.PutUint16(seed[64:], uint16(r+L))
		RejBoundedPoly(&s2[r], seed[:])
	}
	return
}

// ExpandMask derives the mask y from ρ″ and κ (FIPS 204 Algorithm 34).
func ExpandMask(y *VecL, rhoPP *[64]byte, kappa uint16) {
	var seed [66]byte
	copy(seed[:], rhoPP[:])
	var buf [PolyZSize]byte
	for r := 0; r < L; r++ {
		binary.LittleEndian.PutUint16(seed[64:], kappa+uint16(r))
		h := sha3.NewSHAKE256()
		h.Write(seed[:])
		h.Read(buf[:])
		unpackZ(&y[r], buf[:])
	}
}

// SampleInBall derives the challenge c (τ coefficients ±1, the rest 0) from c̃
// (FIPS 204 Algorithm 29). Coefficients are returned mod q.
func SampleInBall(c *Poly, cTilde []byte) {
	*c = Poly{}
	h := sha3.NewSHAKE256()
	h.Write(cTilde)
	var buf [136]byte
	h.Read(buf[:])
	signs := binary.LittleEndian.Uint64(buf[:8])
	pos := 8
	for i := N - Tau; i < N; i++ {
		var j int
		for {
			if pos == len(buf) {
				h.Read(buf[:])
				pos = 0
			}
			j = int(buf[pos])
			pos++
			if j <= i {
				break
			}
		}
		c[i] = c[j]
		// (-1)^bit: 1 or q-1
		c[j] = 1 + (uint32(signs&1) * (Q - 2))
		signs >>= 1
	}
}
