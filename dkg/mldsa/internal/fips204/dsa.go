package fips204

import (
	"crypto/sha3"
	"crypto/subtle"
	"errors"
)

// ErrContextTooLong is returned for a context string longer than 255 bytes.
var ErrContextTooLong = errors.New("fips204: context string longer than 255 bytes")

// H writes SHAKE256(in[0] ‖ in[1] ‖ …) into out.
func H(out []byte, in ...[]byte) {
	h := sha3.NewSHAKE256()
	for _, b := range in {
		h.Write(b)
	}
	h.Read(out)
}

// ComputeMu returns μ = H(tr ‖ 0x00 ‖ len(ctx) ‖ ctx ‖ msg, 64) for pure
// ML-DSA (FIPS 204 Algorithms 2 and 7).
func ComputeMu(tr *[TrSize]byte, msg, ctx []byte) ([MuSize]byte, error) {
	var mu [MuSize]byte
	if len(ctx) > 255 {
		return mu, ErrContextTooLong
	}
	H(mu[:], tr[:], []byte{0, byte(len(ctx))}, ctx, msg)
	return mu, nil
}

// ComputeMuInternal returns μ = H(tr ‖ m′, 64) for an already formatted m′
// (the "internal" interface used by the ACVP vectors).
func ComputeMuInternal(tr *[TrSize]byte, mPrime []byte) [MuSize]byte {
	var mu [MuSize]byte
	H(mu[:], tr[:], mPrime)
	return mu
}

// ChallengeHash returns c̃ = H(μ ‖ w1Encode(w1), 48) for w1 = HighBits(w)
// where w is given with coefficients in [0, q).
func ChallengeHash(cTilde []byte, mu *[MuSize]byte, w *VecK) {
	var enc [K * PolyW1Size]byte
	for i := range w {
		packHighBits(enc[i*PolyW1Size:], &w[i])
	}
	H(cTilde[:CTildeSize], mu[:], enc[:])
}

// PrivateKey is a decoded (non-threshold) ML-DSA-65 private key.
type PrivateKey struct {
	Rho [SeedSize]byte
	Key [SeedSize]byte
	Tr  [TrSize]byte
	S1  [L][N]int8
	S2  [K][N]int8
	T0  [K][N]int32
}

// Zeroize overwrites the secret material.
func (sk *PrivateKey) Zeroize() { *sk = PrivateKey{} }

// Bytes returns the 4032-byte skEncode encoding (FIPS 204 Algorithm 24).
func (sk *PrivateKey) Bytes() []byte {
	b := make([]byte, PrivateKeySize)
	copy(b, sk.Rho[:])
	copy(b[32:], sk.Key[:])
	copy(b[64:], sk.Tr[:])
	o := 128
	for i := range sk.S1 {
		PackEta(b[o:], &sk.S1[i])
		o += PolyEtaSize
	}
	for i := range sk.S2 {
		PackEta(b[o:], &sk.S2[i])
		o += PolyEtaSize
	}
	for i := range sk.T0 {
		PackT0(b[o:], &sk.T0[i])
		o += PolyT0Size
	}
	return b
}

// DecodePrivateKey parses a 4032-byte private key (FIPS 204 Algorithm 25),
// rejecting secret coefficients outside [-η, η].
func DecodePrivateKey(b []byte) (*PrivateKey, error) {
	if len(b) != PrivateKeySize {
		return nil, ErrLength
	}
	sk := new(PrivateKey)
	copy(sk.Rho[:], b)
	copy(sk.Key[:], b[32:])
	copy(sk.Tr[:], b[64:])
	o := 128
	for i := range sk.S1 {
		if err := UnpackEta(&sk.S1[i], b[o:o+PolyEtaSize]); err != nil {
			return nil, err
		}
		o += PolyEtaSize
	}
	for i := range sk.S2 {
		if err := UnpackEta(&sk.S2[i], b[o:o+PolyEtaSize]); err != nil {
			return nil, err
		}
		o += PolyEtaSize
	}
	for i := range sk.T0 {
		UnpackT0(&sk.T0[i], b[o:])
		o += PolyT0Size
	}
	return sk, nil
}

// PublicFromSecret computes t = A·s1 + s2 and splits it with Power2Round.
// It returns the public key and t0. s1 and s2 are centered integers with
// small coefficients (|s| < 2^20).
func PublicFromSecret(rho *[SeedSize]byte, a *Matrix, s1 *[L][N]int32, s2 *[K][N]int32) (*PublicKey, *[K][N]int32) {
	var s1Hat VecL
	for i := range s1 {
		s1Hat[i].FromInt(&s1[i])
		s1Hat[i].NTT()
	}
	var t VecK
	MatVecMul(&t, a, &s1Hat)
	var t1 VecK
	t0 := new([K][N]int32)
	for i := range t {
		var e Poly
		e.FromInt(&s2[i])
		t[i].Add(&t[i], &e)
		for j, c := range t[i] {
			t1[i][j], t0[i][j] = Power2Round(c)
		}
	}
	pk := &PublicKey{Rho: *rho, T1: t1, A: a}
	copy(pk.enc[:], rho[:])
	for i := range t1 {
		PackT1(pk.enc[SeedSize+i*PolyT1Size:], &t1[i])
	}
	H(pk.Tr[:], pk.enc[:])
	return pk, t0
}

// KeyGenInternal derives a key pair from the seed ξ (FIPS 204 Algorithm 6).
func KeyGenInternal(xi *[SeedSize]byte) (*PublicKey, *PrivateKey) {
	var exp [128]byte
	H(exp[:], xi[:], []byte{K, L})
	sk := new(PrivateKey)
	copy(sk.Rho[:], exp[:32])
	var rhoPrime [64]byte
	copy(rhoPrime[:], exp[32:96])
	copy(sk.Key[:], exp[96:])
	sk.S1, sk.S2 = ExpandS(&rhoPrime)
	var s1 [L][N]int32
	var s2 [K][N]int32
	for i := range s1 {
		for j, c := range sk.S1[i] {
			s1[i][j] = int32(c)
		}
	}
	for i := range s2 {
		for j, c := range sk.S2[i] {
			s2[i][j] = int32(c)
		}
	}
	pk, t0 := PublicFromSecret(&sk.Rho, ExpandA(&sk.Rho), &s1, &s2)
	sk.T0 = *t0
	sk.Tr = pk.Tr
	clear(exp[:])
	clear(rhoPrime[:])
	clear(s1[:])
	clear(s2[:])
	return pk, sk
}

// SignMu produces a signature on μ with the hedging randomness rnd
// (FIPS 204 Algorithm 7 from line 7 on). A deterministic signature uses a
// zero rnd.
func SignMu(sk *PrivateKey, mu *[MuSize]byte, rnd *[32]byte) []byte {
	a := ExpandA(&sk.Rho)
	var s1Hat VecL
	var s2Hat, t0Hat VecK
	for i := range s1Hat {
		for j, c := range sk.S1[i] {
			s1Hat[i][j] = ModQ(int32(c))
		}
		s1Hat[i].NTT()
		s1Hat[i].ToMont()
	}
	for i := range s2Hat {
		for j, c := range sk.S2[i] {
			s2Hat[i][j] = ModQ(int32(c))
		}
		s2Hat[i].NTT()
		s2Hat[i].ToMont()
		t0Hat[i].FromInt(&sk.T0[i])
		t0Hat[i].NTT()
		t0Hat[i].ToMont()
	}
	var rhoPP [64]byte
	H(rhoPP[:], sk.Key[:], rnd[:], mu[:])
	sig := make([]byte, SignatureSize)
	var (
		y, yHat  VecL
		w        VecK
		cTilde   [CTildeSize]byte
		c        Poly
		z        [L][N]int32
		h        VecK
		tmp, cs2 Poly
	)
	for kappa := uint16(0); ; kappa += L {
		ExpandMask(&y, &rhoPP, kappa)
		yHat = y
		for i := range yHat {
			yHat[i].NTT()
		}
		MatVecMul(&w, a, &yHat)
		ChallengeHash(cTilde[:], mu, &w)
		SampleInBall(&c, cTilde[:])
		c.NTT()
		reject := false
		for i := range z {
			tmp.MulMont(&c, &s1Hat[i])
			tmp.InvNTT()
			tmp.Add(&tmp, &y[i])
			if tmp.InfNormAtLeast(Gamma1 - Beta) {
				reject = true
			}
			for j, v := range tmp {
				z[i][j] = Centered(v)
			}
		}
		hints := 0
		for i := 0; i < K && !reject; i++ {
			cs2.MulMont(&c, &s2Hat[i])
			cs2.InvNTT()
			// r = w - c·s2
			var r Poly
			r.Sub(&w[i], &cs2)
			for _, v := range r {
				lb := LowBits(v)
				if lb >= Gamma2-Beta || lb <= -(Gamma2-Beta) {
					reject = true
				}
			}
			tmp.MulMont(&c, &t0Hat[i])
			tmp.InvNTT()
			if tmp.InfNormAtLeast(Gamma2) {
				reject = true
			}
			// h = MakeHint(-c·t0, w - c·s2 + c·t0)
			for j := range r {
				ct0 := tmp[j]
				h[i][j] = MakeHint(fieldSub(0, ct0), fieldAdd(r[j], ct0))
				hints += int(h[i][j])
			}
		}
		if reject || hints > Omega {
			continue
		}
		EncodeSignature(sig, cTilde[:], &z, &h)
		clear(rhoPP[:])
		clear(y[:])
		clear(z[:])
		return sig
	}
}

// Sign signs msg with context ctx in pure mode (FIPS 204 Algorithm 2) with
// randomness rnd.
func Sign(sk *PrivateKey, msg, ctx []byte, rnd *[32]byte) ([]byte, error) {
	mu, err := ComputeMu(&sk.Tr, msg, ctx)
	if err != nil {
		return nil, err
	}
	return SignMu(sk, &mu, rnd), nil
}

// VerifyMu checks σ over μ (FIPS 204 Algorithm 8 from line 7 on).
func VerifyMu(pk *PublicKey, mu *[MuSize]byte, sig []byte) bool {
	cTilde, z, h, err := DecodeSignature(sig)
	if err != nil {
		return false
	}
	var zHat VecL
	for i := range z {
		zHat[i].FromInt(&z[i])
		if zHat[i].InfNormAtLeast(Gamma1 - Beta) {
			return false
		}
		zHat[i].NTT()
	}
	var c Poly
	SampleInBall(&c, cTilde)
	c.NTT()
	c.ToMont()
	var w VecK
	for i := range w {
		var ct Poly
		ct.ShiftLeftD(&pk.T1[i])
		ct.NTT()
		ct.MulMont(&c, &ct)
		MatRowMul(&w[i], &pk.A[i], &zHat)
		w[i].Sub(&w[i], &ct)
		w[i].InvNTT()
		for j := range w[i] {
			// UseHint yields high bits; store them as r·2γ2 so that
			// ChallengeHash's HighBits recovers them exactly.
			w[i][j] = UseHint(h[i][j], w[i][j]) * 2 * Gamma2
		}
	}
	var c2 [CTildeSize]byte
	ChallengeHash(c2[:], mu, &w)
	return subtle.ConstantTimeCompare(c2[:], cTilde) == 1
}

// Verify checks a pure-mode ML-DSA-65 signature with context ctx
// (FIPS 204 Algorithm 3).
func Verify(pk *PublicKey, msg, ctx, sig []byte) bool {
	mu, err := ComputeMu(&pk.Tr, msg, ctx)
	if err != nil {
		return false
	}
	return VerifyMu(pk, &mu, sig)
}
