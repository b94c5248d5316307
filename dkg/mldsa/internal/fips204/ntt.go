package fips204

// zetasMont[i] = ζ^{BitRev8(i)} · 2^32 mod q with ζ = 1753 (FIPS 204 Appendix B),
// in Montgomery form. TestZetas recomputes the table.
var zetasMont = [256]uint32{
	4193792, 25847, 5771523, 7861508, 237124, 7602457, 7504169, 466468,
	1826347, 2353451, 8021166, 6288512, 3119733, 5495562, 3111497, 2680103,
	2725464, 1024112, 7300517, 3585928, 7830929, 7260833, 2619752, 6271868,
	6262231, 4520680, 6980856, 5102745, 1757237, 8360995, 4010497, 280005,
	2706023, 95776, 3077325, 3530437, 6718724, 4788269, 5842901, 3915439,
	4519302, 5336701, 3574422, 5512770, 3539968, 8079950, 2348700, 7841118,
	6681150, 6736599, 3505694, 4558682, 3507263, 6239768, 6779997, 3699596,
	811944, 531354, 954230, 3881043, 3900724, 5823537, 2071892, 5582638,
	4450022, 6851714, 4702672, 5339162, 6927966, 3475950, 2176455, 6795196,
	7122806, 1939314, 4296819, 7380215, 5190273, 5223087, 4747489, 126922,
	3412210, 7396998, 2147896, 2715295, 5412772, 4686924, 7969390, 5903370,
	7709315, 7151892, 8357436, 7072248, 7998430, 1349076, 1852771, 6949987,
	5037034, 264944, 508951, 3097992, 44288, 7280319, 904516, 3958618,
	4656075, 8371839, 1653064, 5130689, 2389356, 8169440, 759969, 7063561,
	189548, 4827145, 3159746, 6529015, 5971092, 8202977, 1315589, 1341330,
	1285669, 6795489, 7567685, 6940675, 5361315, 4499357, 4751448, 3839961,
	2091667, 3407706, 2316500, 3817976, 5037939, 2244091, 5933984, 4817955,
	266997, 2434439, 7144689, 3513181, 4860065, 4621053, 7183191, 5187039,
	900702, 1859098, 909542, 819034, 495491, 6767243, 8337157, 7857917,
	7725090, 5257975, 2031748, 3207046, 4823422, 7855319, 7611795, 4784579,
	342297, 286988, 5942594, 4108315, 3437287, 5038140, 1735879, 203044,
	2842341, 2691481, 5790267, 1265009, 4055324, 1247620, 2486353, 1595974,
	4613401, 1250494, 2635921, 4832145, 5386378, 1869119, 1903435, 7329447,
	7047359, 1237275, 5062207, 6950192, 7929317, 1312455, 3306115, 6417775,
	7100756, 1917081, 5834105, 7005614, 1500165, 777191, 2235880, 3406031,
	7838005, 5548557, 6709241, 6533464, 5796124, 4656147, 594136, 4603424,
	6366809, 2432395, 2454455, 8215696, 1957272, 3369112, 185531, 7173032,
	5196991, 162844, 1616392, 3014001, 810149, 1652634, 4686184, 6581310,
	5341501, 3523897, 3866901, 269760, 2213111, 7404533, 1717735, 472078,
	7953734, 1723600, 6577327, 1910376, 6712985, 7276084, 8119771, 4546524,
	5441381, 6144432, 7959518, 6094090, 183443, 7403526, 1612842, 4834730,
	7826001, 3919660, 8332111, 7018208, 3937738, 1400424, 7534263, 1976782,
}

// montMulLazy returns a*b*2^{-32} mod q in [0, 2q) for a*b < q*2^32.
func montMulLazy(a, b uint32) uint32 {
	t := uint64(a) * uint64(b)
	m := uint32(t) * qNegInv
	return uint32((t + uint64(m)*Q) >> 32)
}

// montReduce64 returns t*2^{-32} mod q in [0, 2q) for t < q*2^32.
func montReduce64(t uint64) uint32 {
	m := uint32(t) * qNegInv
	return uint32((t + uint64(m)*Q) >> 32)
}

// NTT transforms p in place into the NTT domain (FIPS 204 Algorithm 41).
// Coefficients must be in [0, q); the result is in [0, q).
//
// Reduction is lazy: after layer k every value is below (2k+1)·q (each
// butterfly adds a Montgomery product in [0, 2q) or subtracts it with a 2q
// offset), so 8 layers stay below 17q < 2^28 and one final reduction
// suffices. The lazy values keep every Montgomery product below q·2^32.
func (p *Poly) NTT() {
	if hasAVX2 {
		nttAVX2(p)
		return
	}
	nttGeneric(p)
}

// nttGeneric is the portable NTT; it is also the reference the AVX2 path is
// tested against.
func nttGeneric(p *Poly) {
	nttLayers(p, 128, 1, 0)
	for i := range p {
		p[i] %= Q // constant-time: division by a constant compiles to a multiplication
	}
}

// nttLayers runs the Cooley–Tukey layers from length hi down to lo, with m
// the zeta index before the first layer; it returns the final m.
func nttLayers(p *Poly, hi, lo, m int) int {
	for length := hi; length >= lo; length >>= 1 {
		for start := 0; start < N; start += 2 * length {
			m++
			z := zetasMont[m]
			a := p[start : start+length : start+length]
			b := p[start+length : start+2*length : start+2*length]
			b = b[:len(a)]
			for j := range a {
				t := montMulLazy(z, b[j])
				x := a[j]
				b[j] = x + 2*Q - t
				a[j] = x + t
			}
		}
	}
	return m
}

// InvNTT transforms p in place out of the NTT domain (FIPS 204 Algorithm 42).
// Coefficients must be in [0, q); the result is in [0, q).
//
// Reduction is lazy: before the layer with index k (k = 0..7) sums are below
// 2^k·q and differences are taken with that offset, so the largest value,
// 256·q, still fits in 32 bits; Montgomery products are in [0, 2q).
func (p *Poly) InvNTT() {
	if hasAVX2 {
		invNTTAVX2(p)
		return
	}
	invNTTGeneric(p)
}

// invNTTGeneric is the portable inverse NTT and the reference for the AVX2
// path.
func invNTTGeneric(p *Poly) {
	invNTTLayers(p, 1, N/2, N, Q)
	for i := range p {
		p[i] = reduceOnce(montMulLazy(nInvMont, p[i]))
	}
}

// invNTTLayers runs the Gentleman–Sande layers from length lo up to hi, with
// m the zeta index and bound the lazy bound before the first layer; it
// returns the final m and bound.
func invNTTLayers(p *Poly, lo, hi, m int, bound uint32) (int, uint32) {
	for length := lo; length <= hi; length <<= 1 {
		for start := 0; start < N; start += 2 * length {
			m--
			z := Q - zetasMont[m]
			a := p[start : start+length : start+length]
			b := p[start+length : start+2*length : start+2*length]
			b = b[:len(a)]
			for j := range a {
				x, y := a[j], b[j]
				a[j] = x + y
				b[j] = montMulLazy(z, x+bound-y)
			}
		}
		bound <<= 1
	}
	return m, bound
}
