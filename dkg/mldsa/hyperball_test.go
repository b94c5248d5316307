package mldsa

import (
	"crypto/rand"
	"math"
	"sort"
	"testing"
)

// ksStat returns the Kolmogorov–Smirnov statistic of samples against cdf.
func ksStat(samples []float64, cdf func(float64) float64) float64 {
	s := append([]float64(nil), samples...)
	sort.Float64s(s)
	n := float64(len(s))
	d := 0.0
	for i, v := range s {
		c := cdf(v)
		d = math.Max(d, math.Max(c-float64(i)/n, float64(i+1)/n-c))
	}
	return d
}

func TestZigguratTables(t *testing.T) {
	zt := zigTables()
	// Every layer has area v; the top layer closes at height f(0) = 1.
	for i := 1; i < zigLayers; i++ {
		area := zt.x[i] * (zt.f[i+1] - zt.f[i])
		if math.Abs(area-zigV) > 1e-11 {
			t.Fatalf("layer %d has area %.15g, want %.15g", i, area, zigV)
		}
	}
	// Base layer: rectangle r·f(r) plus the tail ∫_r^∞ f equals v.
	tail := math.Sqrt(math.Pi/2) * math.Erfc(zigR/math.Sqrt2)
	if base := zigR*math.Exp(-zigR*zigR/2) + tail; math.Abs(base-zigV) > 1e-11 {
		t.Fatalf("base layer area %.15g, want %.15g", base, zigV)
	}
	// The fast-path thresholds are exactly where the floating-point
	// rectangle test m·scale_i < x_{i+1} changes from true to false.
	for i := 0; i < zigLayers; i++ {
		m := zt.fast[i]
		if (m == 0) != (zt.x[i+1] == 0) || m >= 1<<53 {
			t.Fatalf("layer %d: threshold %d out of range", i, m)
		}
		if (m > 0 && !(float64(m-1)*zt.scale[i] < zt.x[i+1])) || float64(m)*zt.scale[i] < zt.x[i+1] {
			t.Fatalf("layer %d: threshold %d is not the boundary", i, m)
		}
		if zt.scale[i] != zt.x[i]*uniScale || zt.scale[i]/uniScale != zt.x[i] {
			t.Fatalf("layer %d: scale is not an exact power-of-two multiple", i)
		}
	}
}

// TestGaussian checks the ziggurat against the standard normal: KS distance,
// moments and the tail frequency beyond r (exercising the tail branch).
func TestGaussian(t *testing.T) {
	b, err := newBallSampler(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n := 2000000
	if testing.Short() {
		n = 300000
	}
	s := make([]float64, n)
	var m1, m2, m4 float64
	tail := 0
	for i := range s {
		v := b.gauss()
		s[i] = v
		m1 += v
		m2 += v * v
		m4 += v * v * v * v
		if math.Abs(v) > zigR {
			tail++
		}
	}
	fn := float64(n)
	m1, m2, m4 = m1/fn, m2/fn, m4/fn
	if math.Abs(m1) > 6/math.Sqrt(fn) || math.Abs(m2-1) > 6*math.Sqrt(2/fn) || math.Abs(m4-3) > 6*math.Sqrt(96/fn) {
		t.Fatalf("moments off: mean %.5f, var %.5f, fourth %.5f", m1, m2, m4)
	}
	d := ksStat(s, func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) })
	if d > 2.3/math.Sqrt(fn) { // p ≈ 1e-4
		t.Fatalf("KS distance %.5f too large", d)
	}
	// Chi-square over 64 equiprobable bins: sensitive to the small, spread
	// density errors a broken wedge or table would cause (a ziggurat that
	// skips the wedge test gives a statistic around 150).
	const bins = 64
	var count [bins]int
	for _, v := range s {
		k := int(0.5 * math.Erfc(-v/math.Sqrt2) * bins)
		count[min(max(k, 0), bins-1)]++
	}
	var chi float64
	e := fn / bins
	for _, c := range count {
		chi += (float64(c) - e) * (float64(c) - e) / e
	}
	if chi > 113 { // df = 63, p ≈ 1e-4
		t.Fatalf("chi-square %.1f over %d bins", chi, bins)
	}
	pTail := math.Erfc(zigR / math.Sqrt2)
	exp := pTail * fn
	if math.Abs(float64(tail)-exp) > 6*math.Sqrt(exp) {
		t.Fatalf("tail count %d, expected %.1f", tail, exp)
	}
}

// TestBallUniform checks that sampled points lie in the ellipsoid and that
// their radius is distributed as for a uniform ball: (‖x‖/r)^dim is uniform
// on [0, 1].
func TestBallUniform(t *testing.T) {
	b, err := newBallSampler(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	const radius, nu = 1000.0, 6.0
	n := 1500
	if testing.Short() {
		n = 400
	}
	x := make([]float64, dimAll)
	u := make([]float64, n)
	var first float64
	for k := range u {
		b.sample(x, radius, nu)
		var r2 float64
		for i, v := range x {
			if i < dimY {
				v /= nu
			}
			r2 += v * v
		}
		if r2 > radius*radius*(1+1e-12) {
			t.Fatalf("point outside the ball: %.3f", math.Sqrt(r2))
		}
		u[k] = math.Pow(math.Sqrt(r2)/radius, dimAll)
		first += x[0]
	}
	if d := ksStat(u, func(v float64) float64 { return math.Min(1, math.Max(0, v)) }); d > 1.95/math.Sqrt(float64(n)) {
		t.Fatalf("radius distribution KS %.4f", d)
	}
	// The first coordinate is symmetric with sd ≈ ν·r/sqrt(dim).
	sd := nu * radius / math.Sqrt(dimAll)
	if m := first / float64(n); math.Abs(m) > 6*sd/math.Sqrt(float64(n)) {
		t.Fatalf("first coordinate mean %.3f", m)
	}
}

// TestWedgeBounds checks that on every layer the bound lines enclose the
// density on the whole layer interval (so a decision on a bound is the
// decision of the exact test), and that they are tight enough to decide most
// wedge tests.
func TestWedgeBounds(t *testing.T) {
	zt := zigTables()
	undecided, total := 0, 0
	for i := 1; i < zigLayers; i++ {
		a, b := zt.x[i+1], zt.x[i]
		for k := 0; k <= 200; k++ {
			x := a + (b-a)*float64(k)/200
			f := math.Exp(-0.5 * x * x)
			lo, hi := zt.loA[i]+zt.loB[i]*x, zt.hiA[i]+zt.hiB[i]*x
			if lo-wedgeMargin/100 > f || hi+wedgeMargin/100 < f {
				t.Fatalf("layer %d, x = %v: bounds [%v, %v] do not enclose f = %v", i, x, lo, hi, f)
			}
			// Share of heights in [f_i, f_{i+1}] left to math.Exp.
			undecided += int(math.Round(1000 * max(0, min(hi, zt.f[i+1])-max(lo, zt.f[i])) / (zt.f[i+1] - zt.f[i])))
			total += 1000
		}
	}
	if frac := float64(undecided) / float64(total); frac > 0.1 {
		t.Fatalf("bound lines leave %.1f%% of wedge tests to math.Exp", 100*frac)
	} else {
		t.Logf("bound lines leave %.2f%% of wedge tests to math.Exp", 100*frac)
	}
}
