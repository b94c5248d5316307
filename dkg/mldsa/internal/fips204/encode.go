package fips204

import (
	"encoding/binary"
	"errors"
)

// Decoding errors.
var (
	ErrLength = errors.New("fips204: wrong encoding length")
	ErrRange  = errors.New("fips204: encoded value out of range")
	ErrHint   = errors.New("fips204: malformed hint encoding")
)

// packBits packs N values of the given bit width (little-endian bit order,
// FIPS 204 Algorithm 16) into dst, which must hold exactly N*bits/8 bytes.
func packBits(dst []byte, v *[N]uint32, bits uint) {
	var acc uint64
	var n uint
	o := 0
	for _, x := range v {
		acc |= uint64(x) << n
		n += bits
		for n >= 8 {
			dst[o] = byte(acc)
			o++
			acc >>= 8
			n -= 8
		}
	}
}

// unpackBits is the inverse of packBits (FIPS 204 Algorithm 18).
func unpackBits(v *[N]uint32, src []byte, bits uint) {
	var acc uint64
	var n uint
	o := 0
	mask := uint64(1)<<bits - 1
	for i := range v {
		for n < bits {
			acc |= uint64(src[o]) << n
			o++
			n += 8
		}
		v[i] = uint32(acc & mask)
		acc >>= bits
		n -= bits
	}
}

// PackT1 encodes t1 (coefficients in [0, 2^10)) into 320 bytes.
func PackT1(dst []byte, p *Poly) { packBits(dst[:PolyT1Size], (*[N]uint32)(p), 10) }

// UnpackT1 decodes 320 bytes into t1.
func UnpackT1(p *Poly, src []byte) { unpackBits((*[N]uint32)(p), src[:PolyT1Size], 10) }

// PackT0 encodes t0 (centered, in (-2^12, 2^12]) as 2^12 - t0 in 13 bits.
func PackT0(dst []byte, t0 *[N]int32) {
	var v [N]uint32
	for i, c := range t0 {
		v[i] = uint32(1<<(D-1) - c)
	}
	packBits(dst[:PolyT0Size], &v, 13)
}

// UnpackT0 decodes 416 bytes into centered t0 coefficients.
func UnpackT0(t0 *[N]int32, src []byte) {
	var v [N]uint32
	unpackBits(&v, src[:PolyT0Size], 13)
	for i, x := range v {
		t0[i] = 1<<(D-1) - int32(x)
	}
}

// PackEta encodes coefficients in [-η, η] as η - s in 4 bits (128 bytes).
func PackEta(dst []byte, s *[N]int8) {
	for i := 0; i < N; i += 2 {
		dst[i/2] = byte(Eta-s[i]) | byte(Eta-s[i+1])<<4
	}
}

// UnpackEta decodes 128 bytes into coefficients in [-η, η]; nibbles above 2η
// are rejected with ErrRange.
func UnpackEta(s *[N]int8, src []byte) error {
	if len(src) != PolyEtaSize {
		return ErrLength
	}
	var bad byte
	for i, b := range src {
		lo, hi := b&15, b>>4
		bad |= (8 - lo) >> 7
		bad |= (8 - hi) >> 7
		s[2*i] = int8(Eta) - int8(lo)
		s[2*i+1] = int8(Eta) - int8(hi)
	}
	if bad != 0 {
		return ErrRange
	}
	return nil
}

// PackZ encodes centered z with coefficients in [-(γ1-1), γ1] as γ1 - z in
// 20 bits (640 bytes), two coefficients per 5 bytes (the packBits bit
// order).
func PackZ(dst []byte, z *[N]int32) {
	dst = dst[:PolyZSize]
	for k := 0; k < N/2; k++ {
		v := uint64(uint32(Gamma1-z[2*k])&(1<<20-1)) | uint64(uint32(Gamma1-z[2*k+1])&(1<<20-1))<<20
		b := dst[5*k : 5*k+5 : 5*k+5]
		binary.LittleEndian.PutUint32(b, uint32(v))
		b[4] = byte(v >> 32)
	}
}

// unpackZ decodes 640 bytes into z mod q.
func unpackZ(p *Poly, src []byte) {
	var z [N]int32
	UnpackZ(&z, src)
	for i, c := range z {
		p[i] = ModQ(c)
	}
}

// UnpackZ decodes 640 bytes into centered coefficients in [-(γ1-1), γ1].
func UnpackZ(z *[N]int32, src []byte) {
	src = src[:PolyZSize]
	for k := 0; k < N/2; k++ {
		b := src[5*k : 5*k+5 : 5*k+5]
		v := uint64(binary.LittleEndian.Uint32(b)) | uint64(b[4])<<32
		z[2*k] = Gamma1 - int32(v&(1<<20-1))
		z[2*k+1] = Gamma1 - int32(v>>20)
	}
}

// PackW1 encodes w1 (coefficients in [0, 16)) into 128 bytes
// (FIPS 204 Algorithm 28).
func PackW1(dst []byte, w1 *Poly) {
	for i := 0; i < N; i += 2 {
		dst[i/2] = byte(w1[i]) | byte(w1[i+1])<<4
	}
}

// PackW23 encodes a polynomial with coefficients in [0, q) in 23 bits each
// (736 bytes), eight coefficients per 23 bytes (the packBits bit order).
func PackW23(dst []byte, p *Poly) {
	dst = dst[:PolyW23Size]
	for g := 0; g < N/8; g++ {
		c := p[g*8 : g*8+8 : g*8+8]
		lo := uint64(c[0]) | uint64(c[1])<<23 | uint64(c[2])<<46
		mid := uint64(c[2])>>18 | uint64(c[3])<<5 | uint64(c[4])<<28 | uint64(c[5])<<51
		hi := uint64(c[5])>>13 | uint64(c[6])<<10 | uint64(c[7])<<33 // 56 bits
		b := dst[g*23:]
		binary.LittleEndian.PutUint64(b[0:8], lo)
		binary.LittleEndian.PutUint64(b[8:16], mid)
		if g < N/8-1 {
			// The eighth byte is the next group's first byte, which the
			// next iteration overwrites.
			binary.LittleEndian.PutUint64(b[16:24], hi)
		} else {
			binary.LittleEndian.PutUint32(b[16:20], uint32(hi))
			binary.LittleEndian.PutUint16(b[20:22], uint16(hi>>32))
			b[22] = byte(hi >> 48)
		}
	}
}

// decodeW23 decodes a 736-byte encoding eight coefficients (23 bytes) at a
// time and stores them into p (add false) or adds them to p mod q (add true;
// p must have coefficients in [0, q)). It returns 1 when some decoded
// coefficient is not below q, else 0. It runs in time independent of the
// data, with the AVX2 kernel on capable amd64 and decodeW23Generic
// otherwise.
func decodeW23(p *Poly, src []byte, add bool) uint32 {
	if hasAVX2 {
		return w23AVX2(p, (*[PolyW23Size]byte)(src[:PolyW23Size]), add)
	}
	return decodeW23Generic(p, src, add)
}

// decodeW23Generic is the portable decodeW23 (three 64-bit loads per group)
// and the reference the AVX2 kernel is tested against.
func decodeW23Generic(p *Poly, src []byte, add bool) uint32 {
	src = src[:PolyW23Size]
	var bad uint32
	for g := 0; g < N/8; g++ {
		b := src[g*23:]
		lo := binary.LittleEndian.Uint64(b[0:8])
		mid := binary.LittleEndian.Uint64(b[8:16])
		var hi uint64
		if g < N/8-1 {
			hi = binary.LittleEndian.Uint64(b[16:24]) & (1<<56 - 1)
		} else {
			hi = binary.LittleEndian.Uint64(b[15:23]) >> 8
		}
		const m = 1<<23 - 1
		c0 := uint32(lo & m)
		c1 := uint32(lo >> 23 & m)
		c2 := uint32((lo>>46 | mid<<18) & m)
		c3 := uint32(mid >> 5 & m)
		c4 := uint32(mid >> 28 & m)
		c5 := uint32((mid>>51 | hi<<13) & m)
		c6 := uint32(hi >> 10 & m)
		c7 := uint32(hi >> 33)
		bad |= (Q - 1 - c0) | (Q - 1 - c1) | (Q - 1 - c2) | (Q - 1 - c3) | (Q - 1 - c4) | (Q - 1 - c5) | (Q - 1 - c6) | (Q - 1 - c7)
		o := p[g*8 : g*8+8 : g*8+8]
		if add {
			c0 = reduceOnce(o[0] + c0)
			c1 = reduceOnce(o[1] + c1)
			c2 = reduceOnce(o[2] + c2)
			c3 = reduceOnce(o[3] + c3)
			c4 = reduceOnce(o[4] + c4)
			c5 = reduceOnce(o[5] + c5)
			c6 = reduceOnce(o[6] + c6)
			c7 = reduceOnce(o[7] + c7)
		}
		o[0], o[1], o[2], o[3], o[4], o[5], o[6], o[7] = c0, c1, c2, c3, c4, c5, c6, c7
	}
	return bad >> 31
}

// UnpackW23 decodes 736 bytes; coefficients must be below q.
func UnpackW23(p *Poly, src []byte) error {
	if len(src) != PolyW23Size {
		return ErrLength
	}
	if decodeW23(p, src, false) != 0 {
		return ErrRange
	}
	return nil
}

// AddW23 sets p = p + UnpackW23(src) mod q for p with coefficients in
// [0, q), without the intermediate polynomial. If src has a coefficient not
// below q it returns ErrRange and p is unspecified (but every coefficient
// stays below 2^24).
func AddW23(p *Poly, src []byte) error {
	if len(src) != PolyW23Size {
		return ErrLength
	}
	if decodeW23(p, src, true) != 0 {
		return ErrRange
	}
	return nil
}

// PackHint encodes the hint vector (bits 0/1) in ω+K bytes
// (FIPS 204 Algorithm 20). The caller guarantees at most ω ones.
func PackHint(dst []byte, h *VecK) {
	dst = dst[:Omega+K]
	clear(dst)
	idx := 0
	for i := range h {
		for j, b := range h[i] {
			if b != 0 {
				dst[idx] = byte(j)
				idx++
			}
		}
		dst[Omega+i] = byte(idx)
	}
}

// UnpackHint decodes a hint (FIPS 204 Algorithm 21), rejecting every
// non-canonical encoding.
func UnpackHint(h *VecK, src []byte) error {
	if len(src) != Omega+K {
		return ErrLength
	}
	*h = VecK{}
	idx := 0
	for i := 0; i < K; i++ {
		end := int(src[Omega+i])
		if end < idx || end > Omega {
			return ErrHint
		}
		first := idx
		for idx < end {
			if idx > first && src[idx-1] >= src[idx] {
				return ErrHint
			}
			h[i][src[idx]] = 1
			idx++
		}
	}
	for ; idx < Omega; idx++ {
		if src[idx] != 0 {
			return ErrHint
		}
	}
	return nil
}

// PublicKey is a decoded ML-DSA-65 public key.
type PublicKey struct {
	Rho [SeedSize]byte
	T1  VecK
	Tr  [TrSize]byte // H(pk, 64)
	A   *Matrix      // ExpandA(ρ)
	enc [PublicKeySize]byte
}

// Bytes returns the 1952-byte encoding.
func (pk *PublicKey) Bytes() []byte { return append([]byte(nil), pk.enc[:]...) }

// EncodePublicKey builds a PublicKey from ρ and t1 (FIPS 204 Algorithm 22).
func EncodePublicKey(rho *[SeedSize]byte, t1 *VecK) *PublicKey {
	pk := &PublicKey{Rho: *rho, T1: *t1}
	copy(pk.enc[:], rho[:])
	for i := range t1 {
		PackT1(pk.enc[SeedSize+i*PolyT1Size:], &t1[i])
	}
	pk.finish()
	return pk
}

func (pk *PublicKey) finish() {
	H(pk.Tr[:], pk.enc[:])
	pk.A = ExpandA(&pk.Rho)
}

// DecodePublicKey parses a 1952-byte public key (FIPS 204 Algorithm 23).
func DecodePublicKey(b []byte) (*PublicKey, error) {
	if len(b) != PublicKeySize {
		return nil, ErrLength
	}
	pk := new(PublicKey)
	copy(pk.enc[:], b)
	copy(pk.Rho[:], b)
	for i := range pk.T1 {
		UnpackT1(&pk.T1[i], b[SeedSize+i*PolyT1Size:])
	}
	pk.finish()
	return pk, nil
}

// EncodeSignature writes σ = c̃ ‖ z ‖ h (FIPS 204 Algorithm 26) into dst
// (SignatureSize bytes). z must be centered with |z| < γ1 and h must hold at
// most ω ones.
func EncodeSignature(dst []byte, cTilde []byte, z *[L][N]int32, h *VecK) {
	dst = dst[:SignatureSize]
	copy(dst, cTilde[:CTildeSize])
	for i := range z {
		PackZ(dst[CTildeSize+i*PolyZSize:], &z[i])
	}
	PackHint(dst[CTildeSize+L*PolyZSize:], h)
}

// DecodeSignature parses σ (FIPS 204 Algorithm 27).
func DecodeSignature(b []byte) (cTilde []byte, z *[L][N]int32, h *VecK, err error) {
	if len(b) != SignatureSize {
		return nil, nil, nil, ErrLength
	}
	z = new([L][N]int32)
	h = new(VecK)
	for i := range z {
		UnpackZ(&z[i], b[CTildeSize+i*PolyZSize:])
	}
	if err := UnpackHint(h, b[CTildeSize+L*PolyZSize:]); err != nil {
		return nil, nil, nil, err
	}
	return b[:CTildeSize], z, h, nil
}
