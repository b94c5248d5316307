package mldsa

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"math"
	mrand "math/rand/v2"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/mldsa/internal/fips204"
)

// refBallSampler is the straightforward formulation of the sampler (the
// implementation before the fast path was introduced), kept as a test oracle:
// per-word buffering, the floating-point rectangle test, sequential sums.
type refBallSampler struct {
	c   cipher.Stream
	buf []byte
	pos int
	g   []float64
	zx  [zigLayers + 1]float64
	zf  [zigLayers + 1]float64
}

func newRefBallSampler(t testing.TB, key []byte) *refBallSampler {
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	var iv [aes.BlockSize]byte
	b := &refBallSampler{c: cipher.NewCTR(block, iv[:]), buf: make([]byte, 8192), pos: 8192, g: make([]float64, gaussDim)}
	f := func(x float64) float64 { return math.Exp(-0.5 * x * x) }
	b.zx[0] = zigV / f(zigR)
	b.zx[1] = zigR
	for i := 1; i < zigLayers-1; i++ {
		b.zx[i+1] = math.Sqrt(-2 * math.Log(zigV/b.zx[i]+f(b.zx[i])))
	}
	for i := range b.zx {
		b.zf[i] = f(b.zx[i])
	}
	return b
}

func (b *refBallSampler) u64() uint64 {
	if b.pos == len(b.buf) {
		clear(b.buf)
		b.c.XORKeyStream(b.buf, b.buf)
		b.pos = 0
	}
	v := binary.LittleEndian.Uint64(b.buf[b.pos:])
	b.pos += 8
	return v
}

func (b *refBallSampler) uniOpen() float64 { return (float64(b.u64()>>zigShift) + 1) * uniScale }

func (b *refBallSampler) gauss() float64 {
	for {
		u := b.u64()
		i := u & (zigLayers - 1)
		x := float64(u>>zigShift) * uniScale * b.zx[i]
		neg := u&zigSign != 0
		if x < b.zx[i+1] {
			if neg {
				return -x
			}
			return x
		}
		if i == 0 {
			for {
				a := -math.Log(b.uniOpen()) * tailInv
				c := -math.Log(b.uniOpen())
				if c+c >= a*a {
					x = zigR + a
					break
				}
			}
		} else {
			y := b.zf[i] + (float64(b.u64()>>zigShift)*uniScale)*(b.zf[i+1]-b.zf[i])
			if y >= math.Exp(-0.5*x*x) {
				continue
			}
		}
		if neg {
			return -x
		}
		return x
	}
}

func (b *refBallSampler) sample(x []float64, radius, nu float64) {
	var sum float64
	for i := range b.g {
		v := b.gauss()
		b.g[i] = v
		sum += v * v
	}
	scale := radius / math.Sqrt(sum)
	for i := 0; i < dimY; i++ {
		x[i] = b.g[i] * scale * nu
	}
	for i := dimY; i < dimAll; i++ {
		x[i] = b.g[i] * scale
	}
}

// TestGaussiansMatchReference checks that the fast sampler produces, for the
// same key, bit for bit the same Gaussians as the reference formulation, over
// enough samples to take the tail and wedge paths many times and to cross
// many block boundaries, with batch sizes that do and do not align with the
// block size.
func TestGaussiansMatchReference(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	b, err := newBallSampler(bytes.NewReader(key))
	if err != nil {
		t.Fatal(err)
	}
	ref := newRefBallSampler(t, key)
	n := 3000000
	if testing.Short() {
		n = 400000
	}
	sizes := []int{1, 2, 7, gaussDim, randWords, randWords + 3, 50000}
	buf := make([]float64, 50000)
	tails := 0
	for done, k := 0, 0; done < n; k++ {
		g := buf[:sizes[k%len(sizes)]]
		_ = b.gaussians(g, 0)
		for i, v := range g {
			w := ref.gauss()
			if math.Float64bits(v) != math.Float64bits(w) {
				t.Fatalf("sample %d: got %v (%#x), reference %v (%#x)", done+i, v, math.Float64bits(v), w, math.Float64bits(w))
			}
			if math.Abs(v) > zigR {
				tails++
			}
		}
		done += len(g)
	}
	// Both streams must also be at the same point of the key stream.
	for range 1000 {
		if x, y := b.u64(), ref.u64(); x != y {
			t.Fatal("samplers consumed different numbers of random words")
		}
	}
	if tails < 50 {
		t.Fatalf("only %d tail samples in %d: tail path not exercised", tails, n)
	}
}

// TestSampleMatchesReference checks whole ball points against the reference:
// bit for bit the same coordinates (same Gaussians, same summation order,
// same scaling), rounded to the same integers (math.RoundToEven; the
// reference used math.Round, which differs only at exact ties).
func TestSampleMatchesReference(t *testing.T) {
	key := make([]byte, 32)
	rand.Read(key)
	b, err := newBallSampler(bytes.NewReader(key))
	if err != nil {
		t.Fatal(err)
	}
	ref := newRefBallSampler(t, key)
	p, err := ParamsFor(3, 5)
	if err != nil {
		t.Fatal(err)
	}
	x := make([]float64, dimAll)
	y := make([]float64, dimAll)
	points := 40
	if testing.Short() {
		points = 8
	}
	for k := 0; k < points; k++ {
		b.sample(x, p.RPrime, p.Nu)
		ref.sample(y, p.RPrime, p.Nu)
		for i := range x {
			if math.Float64bits(x[i]) != math.Float64bits(y[i]) {
				t.Fatalf("point %d coordinate %d: %v vs reference %v", k, i, x[i], y[i])
			}
			if roundCoord(x[i]) != int32(math.RoundToEven(y[i])) {
				t.Fatalf("point %d coordinate %d: rounds to %d, reference %v", k, i, roundCoord(x[i]), math.RoundToEven(y[i]))
			}
		}
	}
}

// TestRoundCoord checks the rounding rule against math.RoundToEven on ties,
// boundaries and random values of every magnitude, that it is a
// nearest-integer rounding agreeing with math.Round away from ties, and that
// it commutes with adding integers of the size of c·s away from ties.
func TestRoundCoord(t *testing.T) {
	cases := []float64{0, math.Copysign(0, -1), 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999999999999994,
		-0.49999999999999994, 0.5000000000000001, -0.5000000000000001, 1 << 30, -(1 << 30), 1<<31 - 1,
		-(1 << 31), 2147483646.5, -2147483647.5, 2147483645.5, 3.43e6 + 0.5, -3.43e6 - 0.5, 1e-300, -1e-300}
	r := mrand.New(mrand.NewPCG(1, 2))
	for range 100000 {
		// Exact ties at every magnitude.
		k := float64(r.Int64N(1 << r.IntN(31)))
		cases = append(cases, k+0.5, -k-0.5)
	}
	for range 2000000 {
		// Magnitudes from 2^−10 to 2^31, both signs.
		v := math.Ldexp(r.Float64(), r.IntN(41)-10)
		if r.IntN(2) == 0 {
			v = -v
		}
		cases = append(cases, v)
	}
	for _, v := range cases {
		if v >= 1<<31-0.5 || v < -(1<<31)-0.5 {
			continue
		}
		got := roundCoord(v)
		if want := int32(math.RoundToEven(v)); got != want {
			t.Fatalf("roundCoord(%v) = %d, want %d", v, got, want)
		}
		if math.Abs(float64(got)-v) > 0.5 {
			t.Fatalf("roundCoord(%v) = %d is not a nearest integer", v, got)
		}
		if f := math.Abs(v) - math.Floor(math.Abs(v)); f != 0.5 && got != int32(math.Round(v)) {
			t.Fatalf("roundCoord(%v) = %d, math.Round gives %v", v, got, math.Round(v))
		}
	}
	for range 1000000 {
		// Translation by integers of the size of c·s, for x in the range
		// of the mask coordinates.
		x := (r.Float64()*2 - 1) * 3.5e6
		c := int32(r.IntN(1<<12) - 1<<11)
		if f := math.Abs(x) - math.Floor(math.Abs(x)); math.Abs(f-0.5) < 1e-6 {
			continue
		}
		if roundCoord(x+float64(c)) != roundCoord(x)+c {
			t.Fatalf("roundCoord(%v + %d) = %d, roundCoord(%v) + %d = %d", x, c, roundCoord(x+float64(c)), x, c, roundCoord(x)+c)
		}
	}
}

// BenchmarkBallSample measures one 3-of-5 ball point (2818 Gaussians).
func BenchmarkBallSample(b *testing.B) {
	s, err := newBallSampler(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float64, dimAll)
	for b.Loop() {
		s.sample(x, 553145, 6)
	}
}

// BenchmarkBallSampleRef measures the reference formulation, for comparison.
func BenchmarkBallSampleRef(b *testing.B) {
	key := make([]byte, 32)
	rand.Read(key)
	s := newRefBallSampler(b, key)
	x := make([]float64, dimAll)
	for b.Loop() {
		s.sample(x, 553145, 6)
	}
}

// TestBallCoordinatesBelowQ checks the precondition of ballModQ for every
// parameter row: a sampled coordinate is at most ν·r′ in absolute value
// (plus rounding), far enough below q; and ballModQ agrees with ModQ on
// the extreme values.
func TestBallCoordinatesBelowQ(t *testing.T) {
	for _, row := range paramTable {
		p, err := ParamsFor(row.t, row.n)
		if err != nil {
			t.Fatal(err)
		}
		bound := p.Nu * p.RPrime * (1 + 1e-9)
		if bound+1 >= fips204.Q-1 {
			t.Fatalf("%d-of-%d: ν·r′ = %.0f does not stay below q", p.T, p.N, bound)
		}
		for _, v := range []float64{bound, -bound, 0.4, -0.4, 0.6, -0.6} {
			if got, want := ballModQ(v), fips204.ModQ(roundCoord(v)); got != want {
				t.Fatalf("ballModQ(%v) = %d, want %d", v, got, want)
			}
		}
	}
	// Sampled points respect the bound coordinate-wise.
	b, err := newBallSampler(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := ParamsFor(3, 5)
	x := make([]float64, dimAll)
	for range 20 {
		b.sample(x, p.RPrime, p.Nu)
		for i, v := range x {
			lim := p.RPrime * (1 + 1e-9)
			if i < dimY {
				lim *= p.Nu
			}
			if math.Abs(v) > lim {
				t.Fatalf("coordinate %d = %v exceeds %v", i, v, lim)
			}
		}
	}
}
