//go:build amd64 && !purego

package fips204

import "golang.org/x/sys/cpu"

// hasAVX2 selects the AVX2 kernels for the NTT layers with length ≥ 8.
var hasAVX2 = cpu.X86.HasAVX2

// ctGroupAVX2 runs n (a multiple of 8) Cooley–Tukey butterflies
// a[j], b[j] = a[j] + t, a[j] + 2q − t with t = montMulLazy(z, b[j]).
//
//go:noescape
func ctGroupAVX2(a, b *uint32, n int, z uint32)

// gsGroupAVX2 runs n (a multiple of 8) Gentleman–Sande butterflies
// a[j], b[j] = a[j] + b[j], montMulLazy(z, a[j] + bound − b[j]).
//
//go:noescape
func gsGroupAVX2(a, b *uint32, n int, z, bound uint32)

// reduce17AVX2 maps every coefficient in [0, 17q) to [0, q).
//
//go:noescape
func reduce17AVX2(p *Poly)

// invFinalAVX2 sets every coefficient to montMulLazy(256^{-1}·2^32, x) mod q
// for x < 256q.
//
//go:noescape
func invFinalAVX2(p *Poly)

func nttAVX2(p *Poly) {
	m := 0
	for length := 128; length >= 8; length >>= 1 {
		for start := 0; start < N; start += 2 * length {
			m++
			ctGroupAVX2(&p[start], &p[start+length], length, zetasMont[m])
		}
	}
	nttLast3AVX2(p, &zetasFwdLanes)
	reduce17AVX2(p)
}

func invNTTAVX2(p *Poly) {
	invFirst3AVX2(p, &zetasInvLanes)
	m, bound := 32, uint32(8*Q)
	for length := 8; length < N; length <<= 1 {
		for start := 0; start < N; start += 2 * length {
			m--
			gsGroupAVX2(&p[start], &p[start+length], length, Q-zetasMont[m], bound)
		}
		bound <<= 1
	}
	invFinalAVX2(p)
}

// mulMontAVX2 sets out = a ∘ b · 2^{-32} mod q in [0, q).
//
//go:noescape
func mulMontAVX2(out, a, b *Poly)

// matRowAVX2 sets out = Σ_k row[k] ∘ y[k] · 2^{-32} mod q in [0, q).
//
//go:noescape
func matRowAVX2(out *Poly, row *[L]Poly, y *VecL)

// nttLast3AVX2 runs the forward layers of length 4, 2 and 1.
//
//go:noescape
func nttLast3AVX2(p *Poly, z *[16][24]uint32)

// invFirst3AVX2 runs the inverse layers of length 1, 2 and 4.
//
//go:noescape
func invFirst3AVX2(p *Poly, z *[16][24]uint32)

// w23AVX2 is decodeW23 (eight coefficients per step); it returns 1 when a
// decoded coefficient is not below q, else 0.
//
//go:noescape
func w23AVX2(p *Poly, src *[PolyW23Size]byte, add bool) uint32
