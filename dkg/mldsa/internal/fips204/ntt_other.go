//go:build !amd64 || purego

package fips204

const hasAVX2 = false

func nttAVX2(p *Poly)    { nttGeneric(p) }
func invNTTAVX2(p *Poly) { invNTTGeneric(p) }

func mulMontAVX2(out, a, b *Poly)                 { mulMontGeneric(out, a, b) }
func matRowAVX2(out *Poly, row *[L]Poly, y *VecL) { matRowGeneric(out, row, y) }

func w23AVX2(p *Poly, src *[PolyW23Size]byte, add bool) uint32 {
	return decodeW23Generic(p, src[:], add)
}
