package fips204

// Poly is an element of R_q = Z_q[X]/(X^256+1); coefficients are kept in [0, q).
type Poly [N]uint32

// VecL is a vector of L polynomials.
type VecL [L]Poly

// VecK is a vector of K polynomials.
type VecK [K]Poly

// Matrix is the public matrix Â (K rows, L columns), stored in the NTT domain
// and in Montgomery form so that MulNTT yields plain NTT-domain products.
type Matrix [K][L]Poly

// Add sets p = a + b.
func (p *Poly) Add(a, b *Poly) {
	for i := range p {
		p[i] = fieldAdd(a[i], b[i])
	}
}

// Sub sets p = a - b.
func (p *Poly) Sub(a, b *Poly) {
	for i := range p {
		p[i] = fieldSub(a[i], b[i])
	}
}

// MulMont sets p = a ∘ b · 2^{-32} (pointwise Montgomery product).
func (p *Poly) MulMont(a, b *Poly) {
	if hasAVX2 {
		mulMontAVX2(p, a, b)
		return
	}
	mulMontGeneric(p, a, b)
}

func mulMontGeneric(p, a, b *Poly) {
	for i := range p {
		p[i] = montMul(a[i], b[i])
	}
}

// ToMont multiplies every coefficient by 2^32 mod q (Montgomery form).
func (p *Poly) ToMont() {
	for i := range p {
		p[i] = montMul(p[i], r2ModQ)
	}
}

// ShiftLeftD sets p = a · 2^D mod q.
func (p *Poly) ShiftLeftD(a *Poly) {
	for i := range p {
		p[i] = FieldMul(a[i], 1<<D)
	}
}

// InfNormAtLeast reports whether some centered coefficient c of p has
// |c| >= bound. It runs in time independent of the coefficients.
func (p *Poly) InfNormAtLeast(bound int32) bool {
	var acc uint32
	for _, a := range p {
		c := Centered(a)
		m := c >> 31
		abs := (c ^ m) - m
		acc |= uint32(bound-1-abs) >> 31 // 1 when abs >= bound
	}
	return acc != 0
}

// FromInt sets the coefficients of p from centered integers with |v| < 2^30.
func (p *Poly) FromInt(v *[N]int32) {
	for i := range p {
		p[i] = ModQ(v[i])
	}
}

// MatVecMul sets out = NTT^{-1}(Â ∘ ŷ) where ŷ is in the NTT domain.
func MatVecMul(out *VecK, a *Matrix, yHat *VecL) {
	for i := range out {
		MatRowMul(&out[i], &a[i], yHat)
		out[i].InvNTT()
	}
}

// MatRowMul sets o = Σ_k row[k] ∘ ŷ[k] · 2^{-32} mod q (one row of Â·ŷ in the
// NTT domain when row is in Montgomery form).
func MatRowMul(o *Poly, row *[L]Poly, yHat *VecL) {
	if hasAVX2 {
		matRowAVX2(o, row, yHat)
		return
	}
	matRowGeneric(o, row, yHat)
}

// matRowGeneric sets o = Σ_k row[k] ∘ y[k] · 2^{-32} mod q. The L products of
// each coefficient are summed in 64 bits (each is below q², the sum below
// 5q² < q·2^32) and reduced once.
func matRowGeneric(o *Poly, row *[L]Poly, yHat *VecL) {
	for c := 0; c < N; c++ {
		t := uint64(row[0][c])*uint64(yHat[0][c]) +
			uint64(row[1][c])*uint64(yHat[1][c]) +
			uint64(row[2][c])*uint64(yHat[2][c]) +
			uint64(row[3][c])*uint64(yHat[3][c]) +
			uint64(row[4][c])*uint64(yHat[4][c])
		o[c] = reduceOnce(montReduce64(t))
	}
}
