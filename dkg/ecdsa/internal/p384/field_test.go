package p384

import (
	"bytes"
	"crypto/rand"
	"math/big"
	"testing"

	"filippo.io/bigmod"
)

// The Montgomery field of field.go is checked against two independent
// oracles: filippo.io/bigmod (the constant-time implementation it replaced)
// and math/big.

var bigmodN = func() *bigmod.Modulus {
	m, err := bigmod.NewModulus(orderBytes[:])
	if err != nil {
		panic(err)
	}
	return m
}()

// edgeValues are 48-byte encodings of boundary values below n.
func edgeValues() [][]byte {
	one := big.NewInt(1)
	vals := []*big.Int{
		big.NewInt(0), big.NewInt(1), big.NewInt(2),
		new(big.Int).Sub(nBig, one),
		new(big.Int).Sub(nBig, big.NewInt(2)),
		new(big.Int).Rsh(nBig, 1),
		new(big.Int).Add(new(big.Int).Rsh(nBig, 1), one),
		new(big.Int).Lsh(one, 64),
		new(big.Int).Sub(new(big.Int).Lsh(one, 64), one),
		new(big.Int).Sub(new(big.Int).Lsh(one, 192), one),
		new(big.Int).Lsh(one, 383),
		new(big.Int).Sub(new(big.Int).Lsh(one, 383), one),
		new(big.Int).Sub(new(big.Int).Lsh(one, 384), new(big.Int).Lsh(one, 190)),
	}
	var out [][]byte
	for _, v := range vals {
		if v.Cmp(nBig) < 0 {
			out = append(out, v.FillBytes(make([]byte, ScalarSize)))
		}
	}
	return out
}

func randomBelowN(t testing.TB) []byte {
	v, err := rand.Int(rand.Reader, nBig)
	if err != nil {
		t.Fatal(err)
	}
	return v.FillBytes(make([]byte, ScalarSize))
}

func mustScalar(t testing.TB, b []byte) *Scalar {
	t.Helper()
	s, err := NewScalar().SetBytes(b)
	if err != nil {
		t.Fatalf("SetBytes(%x): %v", b, err)
	}
	return s
}

func mustNat(t testing.TB, b []byte) *bigmod.Nat {
	t.Helper()
	n, err := bigmod.NewNat().SetBytes(b, bigmodN)
	if err != nil {
		t.Fatalf("bigmod SetBytes(%x): %v", b, err)
	}
	return n
}

// checkPair compares every operation on (a, b) with bigmod and math/big.
func checkPair(t testing.TB, ab, bb []byte) {
	t.Helper()
	a, b := mustScalar(t, ab), mustScalar(t, bb)
	A, B := new(big.Int).SetBytes(ab), new(big.Int).SetBytes(bb)
	if got := a.Bytes(); !bytes.Equal(got, ab) {
		t.Fatalf("round trip %x -> %x", ab, got)
	}
	type op struct {
		name  string
		got   *Scalar
		nat   func() *bigmod.Nat
		wantB *big.Int
	}
	ops := []op{
		{"add", NewScalar().Add(a, b), func() *bigmod.Nat { return mustNat(t, ab).Add(mustNat(t, bb), bigmodN) }, new(big.Int).Add(A, B)},
		{"sub", NewScalar().Sub(a, b), func() *bigmod.Nat { return mustNat(t, ab).Sub(mustNat(t, bb), bigmodN) }, new(big.Int).Sub(A, B)},
		{"mul", NewScalar().Mul(a, b), func() *bigmod.Nat { return mustNat(t, ab).Mul(mustNat(t, bb), bigmodN) }, new(big.Int).Mul(A, B)},
		{"neg", NewScalar().Neg(a), func() *bigmod.Nat { return bigmod.NewNat().ExpandFor(bigmodN).Sub(mustNat(t, ab), bigmodN) }, new(big.Int).Neg(A)},
		{"sqr", NewScalar().Mul(a, a), func() *bigmod.Nat { return mustNat(t, ab).Mul(mustNat(t, ab), bigmodN) }, new(big.Int).Mul(A, A)},
		{"addmasked1", a.Clone().AddMaskedScalar(b, 1), func() *bigmod.Nat { return mustNat(t, ab).Add(mustNat(t, bb), bigmodN) }, new(big.Int).Add(A, B)},
		{"addmasked0", a.Clone().AddMaskedScalar(b, 0), func() *bigmod.Nat { return mustNat(t, ab) }, new(big.Int).Set(A)},
		{"submasked1", a.Clone().SubMaskedScalar(b, 1), func() *bigmod.Nat { return mustNat(t, ab).Sub(mustNat(t, bb), bigmodN) }, new(big.Int).Sub(A, B)},
		{"submasked0", a.Clone().SubMaskedScalar(b, 0), func() *bigmod.Nat { return mustNat(t, ab) }, new(big.Int).Set(A)},
		{"addmaskedbytes", a.Clone().AddMasked(bb, 1), func() *bigmod.Nat { return mustNat(t, ab).Add(mustNat(t, bb), bigmodN) }, new(big.Int).Add(A, B)},
		{"submaskedbytes", a.Clone().SubMasked(bb, 1), func() *bigmod.Nat { return mustNat(t, ab).Sub(mustNat(t, bb), bigmodN) }, new(big.Int).Sub(A, B)},
	}
	// The plain-form type: products with a Scalar, sums and masked sums.
	var pa, pb Plain
	if pa.SetBytes(ab) != nil || pb.SetBytes(bb) != nil {
		t.Fatal("Plain.SetBytes rejected a value < n")
	}
	plain := func(f func(p *Plain) *Plain) *Scalar {
		var p Plain
		f(&p)
		out := make([]byte, ScalarSize)
		p.PutBytes(out)
		if !bytes.Equal(p.Scalar(NewScalar()).Bytes(), out) {
			t.Fatal("Plain.Scalar and Plain.PutBytes disagree")
		}
		return mustScalar(t, out)
	}
	ops = append(ops,
		op{"plain-roundtrip", plain(func(p *Plain) *Plain { *p = pa; return p }), func() *bigmod.Nat { return mustNat(t, ab) }, new(big.Int).Set(A)},
		op{"plain-setscalar", plain(func(p *Plain) *Plain { return p.SetScalar(a) }), func() *bigmod.Nat { return mustNat(t, ab) }, new(big.Int).Set(A)},
		op{"plain-add", plain(func(p *Plain) *Plain { return p.Add(&pa, &pb) }), func() *bigmod.Nat { return mustNat(t, ab).Add(mustNat(t, bb), bigmodN) }, new(big.Int).Add(A, B)},
		op{"plain-sub", plain(func(p *Plain) *Plain { return p.Sub(&pa, &pb) }), func() *bigmod.Nat { return mustNat(t, ab).Sub(mustNat(t, bb), bigmodN) }, new(big.Int).Sub(A, B)},
		op{"plain-mulscalar", plain(func(p *Plain) *Plain { return p.MulScalar(a, &pb) }), func() *bigmod.Nat { return mustNat(t, ab).Mul(mustNat(t, bb), bigmodN) }, new(big.Int).Mul(A, B)},
		op{"plain-mulscalar-alias", plain(func(p *Plain) *Plain { *p = pb; return p.MulScalar(a, p) }), func() *bigmod.Nat { return mustNat(t, ab).Mul(mustNat(t, bb), bigmodN) }, new(big.Int).Mul(A, B)},
		op{"plain-addmasked1", plain(func(p *Plain) *Plain { *p = pa; return p.AddMasked(&pb, 1) }), func() *bigmod.Nat { return mustNat(t, ab).Add(mustNat(t, bb), bigmodN) }, new(big.Int).Add(A, B)},
		op{"plain-addmasked0", plain(func(p *Plain) *Plain { *p = pa; return p.AddMasked(&pb, 0) }), func() *bigmod.Nat { return mustNat(t, ab) }, new(big.Int).Set(A)},
		op{"plain-submasked1", plain(func(p *Plain) *Plain { *p = pa; return p.SubMasked(&pb, 1) }), func() *bigmod.Nat { return mustNat(t, ab).Sub(mustNat(t, bb), bigmodN) }, new(big.Int).Sub(A, B)},
		op{"plain-submasked0", plain(func(p *Plain) *Plain { *p = pa; return p.SubMasked(&pb, 0) }), func() *bigmod.Nat { return mustNat(t, ab) }, new(big.Int).Set(A)},
	)
	for _, o := range ops {
		want := o.nat().Bytes(bigmodN)
		if got := o.got.Bytes(); !bytes.Equal(got, want) {
			t.Fatalf("%s(%x, %x) = %x, bigmod says %x", o.name, ab, bb, got, want)
		}
		wb := o.wantB.Mod(o.wantB, nBig).FillBytes(make([]byte, ScalarSize))
		if !bytes.Equal(want, wb) {
			t.Fatalf("%s: bigmod and math/big disagree", o.name)
		}
	}
	// Aliasing: the output may be either input.
	c := a.Clone()
	c.Mul(c, c)
	if !bytes.Equal(c.Bytes(), NewScalar().Mul(a, a).Bytes()) {
		t.Fatal("aliased square differs")
	}
	c = b.Clone()
	c.Sub(a, c)
	if !bytes.Equal(c.Bytes(), NewScalar().Sub(a, b).Bytes()) {
		t.Fatal("aliased sub differs")
	}
	if a.Equal(b) != boolInt(bytes.Equal(ab, bb)) {
		t.Fatal("Equal wrong")
	}
	if a.IsZero() != boolInt(A.Sign() == 0) {
		t.Fatal("IsZero wrong")
	}
	// Inverse against bigmod's exponentiation and math/big.
	inv := NewScalar().Inverse(a)
	nm2 := new(big.Int).Sub(nBig, big.NewInt(2)).Bytes()
	wantInv := bigmod.NewNat().Exp(mustNat(t, ab), nm2, bigmodN).Bytes(bigmodN)
	if !bytes.Equal(inv.Bytes(), wantInv) {
		t.Fatalf("inverse(%x) = %x, bigmod says %x", ab, inv.Bytes(), wantInv)
	}
	if A.Sign() != 0 {
		bi := new(big.Int).ModInverse(A, nBig).FillBytes(make([]byte, ScalarSize))
		if !bytes.Equal(wantInv, bi) {
			t.Fatal("inverse: bigmod and math/big disagree")
		}
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestFieldEdgeValues(t *testing.T) {
	edges := edgeValues()
	if len(edges) < 10 {
		t.Fatalf("only %d edge values", len(edges))
	}
	for _, a := range edges {
		for _, b := range edges {
			checkPair(t, a, b)
		}
	}
}

func TestFieldRandomAgainstBigmod(t *testing.T) {
	n := 2000
	if testing.Short() {
		n = 200
	}
	edges := edgeValues()
	for i := 0; i < n; i++ {
		a := randomBelowN(t)
		checkPair(t, a, randomBelowN(t))
		checkPair(t, a, edges[i%len(edges)])
	}
}

// TestFieldDecodeMatchesBigmod checks that SetBytes accepts exactly what
// bigmod's SetBytes accepts (values < n) and SetReducedBytes reduces exactly
// like bigmod's SetOverflowingBytes, at the boundary and at random.
func TestFieldDecodeMatchesBigmod(t *testing.T) {
	one := big.NewInt(1)
	var inputs [][]byte
	for _, v := range []*big.Int{
		new(big.Int).Sub(nBig, one), nBig, new(big.Int).Add(nBig, one),
		new(big.Int).Sub(new(big.Int).Lsh(one, 384), one),
		new(big.Int).Lsh(one, 383),
	} {
		inputs = append(inputs, v.FillBytes(make([]byte, ScalarSize)))
	}
	inputs = append(inputs, edgeValues()...)
	for i := 0; i < 500; i++ {
		b := make([]byte, ScalarSize)
		rand.Read(b)
		if i%2 == 0 {
			// Force the top limbs to all ones so many values land ≥ n.
			for k := 0; k < 24; k++ {
				b[k] = 0xff
			}
		}
		inputs = append(inputs, b)
	}
	for _, b := range inputs {
		checkDecode(t, b)
	}
}

func checkDecode(t testing.TB, b []byte) {
	t.Helper()
	_, errOracle := bigmod.NewNat().SetBytes(b, bigmodN)
	s := ScalarFromUint64(7)
	got, err := s.SetBytes(b)
	if (err == nil) != (errOracle == nil) {
		t.Fatalf("SetBytes(%x): err %v, bigmod err %v", b, err, errOracle)
	}
	if err != nil {
		if err != ErrScalarRange || got != nil {
			t.Fatalf("SetBytes(%x): want ErrScalarRange, got %v", b, err)
		}
		if !bytes.Equal(s.Bytes(), ScalarFromUint64(7).Bytes()) {
			t.Fatal("rejected SetBytes modified the scalar")
		}
	} else if !bytes.Equal(s.Bytes(), b) {
		t.Fatalf("SetBytes(%x) round trip %x", b, s.Bytes())
	}
	var p Plain
	p.SetScalar(ScalarFromUint64(7))
	perr := p.SetBytes(b)
	if (perr == nil) != (errOracle == nil) || (perr != nil && perr != ErrScalarRange) {
		t.Fatalf("Plain.SetBytes(%x): err %v, bigmod err %v", b, perr, errOracle)
	}
	pout := make([]byte, ScalarSize)
	p.PutBytes(pout)
	if perr != nil && !bytes.Equal(pout, ScalarFromUint64(7).Bytes()) {
		t.Fatal("rejected Plain.SetBytes modified the value")
	}
	if perr == nil && !bytes.Equal(pout, b) {
		t.Fatal("Plain round trip")
	}
	want, err := bigmod.NewNat().SetOverflowingBytes(b, bigmodN)
	if err != nil {
		t.Fatal(err)
	}
	p.SetReducedBytes((*[ScalarSize]byte)(b))
	p.PutBytes(pout)
	if !bytes.Equal(pout, want.Bytes(bigmodN)) {
		t.Fatalf("Plain.SetReducedBytes(%x) = %x, bigmod %x", b, pout, want.Bytes(bigmodN))
	}
	r, err := NewScalar().SetReducedBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Bytes(), want.Bytes(bigmodN)) {
		t.Fatalf("SetReducedBytes(%x) = %x, bigmod %x", b, r.Bytes(), want.Bytes(bigmodN))
	}
	// Invalid encodings leave AddMasked a no-op instead of wrapping.
	if err == nil && errOracle != nil {
		a := ScalarFromUint64(5)
		if !bytes.Equal(a.AddMasked(b, 1).Bytes(), ScalarFromUint64(5).Bytes()) {
			t.Fatal("AddMasked accepted an encoding ≥ n")
		}
	}
}

func TestFieldConstants(t *testing.T) {
	nLimbs := new(big.Int)
	for i := 5; i >= 0; i-- {
		nLimbs.Lsh(nLimbs, 64).Or(nLimbs, new(big.Int).SetUint64(feN()[i]))
	}
	if nLimbs.Cmp(nBig) != 0 {
		t.Fatal("feN differs from the order")
	}
	r2 := new(big.Int)
	for i := 5; i >= 0; i-- {
		r2.Lsh(r2, 64).Or(r2, new(big.Int).SetUint64(feR2()[i]))
	}
	if want := new(big.Int).Exp(big.NewInt(2), big.NewInt(768), nBig); r2.Cmp(want) != 0 {
		t.Fatal("feR2 is not 2^768 mod n")
	}
	m := new(big.Int).Lsh(big.NewInt(1), 64)
	inv := new(big.Int).ModInverse(nBig, m)
	inv.Neg(inv).Mod(inv, m)
	if inv.Uint64() != feNInv {
		t.Fatal("feNInv is not -n^-1 mod 2^64")
	}
	if s := ScalarFromUint64(0xfedcba9876543210); new(big.Int).SetBytes(s.Bytes()).Uint64() != 0xfedcba9876543210 {
		t.Fatal("ScalarFromUint64")
	}
	var z Scalar
	if z.IsZero() != 1 || !bytes.Equal(z.Bytes(), make([]byte, ScalarSize)) {
		t.Fatal("zero value is not 0")
	}
}

// FuzzFieldAgainstBigmod compares all field operations with bigmod on
// arbitrary inputs (inputs ≥ n exercise the decoders' rejection path).
func FuzzFieldAgainstBigmod(f *testing.F) {
	edges := edgeValues()
	for i := range edges {
		f.Add(edges[i], edges[(i+3)%len(edges)])
	}
	f.Add(Order(), Order())
	f.Fuzz(func(t *testing.T, a, b []byte) {
		if len(a) != ScalarSize || len(b) != ScalarSize {
			if _, err := NewScalar().SetBytes(a); len(a) != ScalarSize && err != ErrScalarLength {
				t.Fatal("wrong length accepted")
			}
			return
		}
		checkDecode(t, a)
		checkDecode(t, b)
		_, ea := bigmod.NewNat().SetBytes(a, bigmodN)
		_, eb := bigmod.NewNat().SetBytes(b, bigmodN)
		if ea == nil && eb == nil {
			checkPair(t, a, b)
		}
	})
}
