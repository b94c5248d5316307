package interval

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestCombineOutvotesLiar(t *testing.T) {
	srcs := []Source{
		{"honest-a", Around(1_000_000, 2_000_000)},
		{"liar", Around(30_000_000_000, 1_000_000)},
		{"honest-b", Around(-500_000, 1_500_000)},
	}
	r, err := Combine(srcs, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(r.Falsetickers, []string{"liar"}) || len(r.Agreeing) != 2 || r.Quorum != 2 {
		t.Fatalf("%+v", r)
	}
	// Intersection of the two honest intervals: [-1e6, 1e6].
	if r.Interval != (Interval{-1_000_000, 1_000_000}) {
		t.Fatalf("interval %v", r.Interval)
	}
}

func TestCombineNoMajority(t *testing.T) {
	srcs := []Source{{"a", Around(0, 10)}, {"b", Around(1000, 10)}, {"c", Around(2000, 10)}}
	r, err := Combine(srcs, 0)
	if !errors.Is(err, ErrNoMajority) || r.Max != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	// Two disagreeing sources: neither is trusted.
	if _, err := Combine(srcs[:2], 0); !errors.Is(err, ErrNoMajority) {
		t.Fatal("two disagreeing sources produced time")
	}
	if _, err := Combine(nil, 0); !errors.Is(err, ErrNoMajority) {
		t.Fatal("no sources produced time")
	}
	if _, err := Combine([]Source{{"bad", Interval{5, 1}}}, 1); err == nil {
		t.Fatal("invalid interval accepted")
	}
}

// Closed intervals that only touch still agree.
func TestCombineTouching(t *testing.T) {
	r, err := Combine([]Source{{"a", Interval{0, 10}}, {"b", Interval{10, 20}}}, 2)
	if err != nil || r.Interval != (Interval{10, 10}) {
		t.Fatalf("%+v %v", r, err)
	}
}

// Property: with f < n/2 liars placing arbitrary intervals, the result always
// contains the truth (0), and agrees with a brute-force count.
func TestCombineProperty(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for iter := 0; iter < 3000; iter++ {
		n := 1 + rng.IntN(7)
		f := (n - 1) / 2
		var srcs []Source
		for i := 0; i < n; i++ {
			var iv Interval
			if i < f {
				a, b := rng.Int64N(2000)-1000, rng.Int64N(2000)-1000
				iv = Interval{min(a, b), max(a, b)}
			} else {
				iv = Interval{-rng.Int64N(300), rng.Int64N(300)} // contains 0
			}
			srcs = append(srcs, Source{Name: string(rune('a' + i)), Interval: iv})
		}
		r, err := Combine(srcs, 0)
		if err != nil {
			t.Fatalf("honest majority rejected: %v %+v", err, srcs)
		}
		if !r.Interval.Contains(0) {
			t.Fatalf("truth outside %v for %+v", r.Interval, srcs)
		}
		// Brute force: endpoints of the result are covered by ≥ quorum sources,
		// and no point outside is.
		cover := func(x int64) int {
			c := 0
			for _, s := range srcs {
				if s.Interval.Contains(x) {
					c++
				}
			}
			return c
		}
		if cover(r.Interval.Lo) < r.Quorum || cover(r.Interval.Hi) < r.Quorum ||
			cover(r.Interval.Lo-1) >= r.Quorum && r.Interval.Lo > -1000 || cover(r.Interval.Hi+1) >= r.Quorum {
			t.Fatalf("result %v not tight for %+v", r.Interval, srcs)
		}
	}
}

func TestEstimateRate(t *testing.T) {
	// Local clock slow by 20 ppm: offset grows 20 µs per second.
	var pts []Point
	for i := int64(0); i <= 10; i++ {
		m := i * 1e9
		pts = append(pts, Point{Mono: m, Offset: Around(5_000+m*20/1_000_000, 2_000)})
	}
	r, err := EstimateRate(pts)
	if err != nil {
		t.Fatal(err)
	}
	if d := r.Rate - 20e-6; d > 1e-9 || d < -1e-9 {
		t.Fatalf("rate %g", r.Rate)
	}
	if !(r.Lo <= 20e-6 && 20e-6 <= r.Hi) || r.Span != 10e9 || r.N != 11 {
		t.Fatalf("%+v", r)
	}
	if !r.Within(50e-6) || !r.Converged(50e-6) {
		t.Fatalf("20 ppm not within 50 ppm: %+v", r)
	}
	if r.Within(10e-6) {
		t.Fatalf("20 ppm accepted under a 10 ppm limit: %+v", r)
	}
	if _, err := EstimateRate(pts[:1]); !errors.Is(err, ErrTooFewPoints) {
		t.Fatal("one point accepted")
	}
	if _, err := EstimateRate([]Point{pts[1], pts[0]}); err == nil {
		t.Fatal("unordered points accepted")
	}
}

func BenchmarkCombine5(b *testing.B) {
	srcs := []Source{{"a", Around(0, 10)}, {"b", Around(5, 10)}, {"c", Around(1e9, 10)}, {"d", Around(2, 10)}, {"e", Around(-3, 10)}}
	for b.Loop() {
		if _, err := Combine(srcs, 0); err != nil {
			b.Fatal(err)
		}
	}
}
