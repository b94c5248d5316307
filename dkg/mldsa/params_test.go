package mldsa

import (
	"math"
	"math/bits"
	"testing"
)

// TestPartition checks, for every (T, N) and every signer set, that each
// subset secret is assigned exactly once, to a signer that holds it, and that
// no signer sums more than ⌈C(N,T−1)/T⌉ secrets (the load the radii assume).
func TestPartition(t *testing.T) {
	for _, row := range paramTable {
		p, err := ParamsFor(row.t, row.n)
		if err != nil {
			t.Fatal(err)
		}
		subs := subsets(p.T, p.N)
		if len(subs) != binom(p.N, p.T-1) {
			t.Fatalf("%d-of-%d: %d subsets", p.T, p.N, len(subs))
		}
		for _, set := range setsOf(p.T, p.N) {
			var act uint8
			for _, id := range set {
				act |= 1 << id
			}
			part, err := p.partition(act)
			if err != nil {
				t.Fatal(err)
			}
			again, _ := p.partition(act)
			seen := map[uint8]int{}
			for id, masks := range part {
				if len(masks) != len(again[id]) {
					t.Fatal("partition not deterministic")
				}
				if len(masks) > 0 && act&(1<<id) == 0 {
					t.Fatalf("non-signer %d got secrets", id)
				}
				if len(masks) > p.maxLoad() {
					t.Fatalf("%d-of-%d %v: party %d sums %d > %d", p.T, p.N, set, id, len(masks), p.maxLoad())
				}
				for _, m := range masks {
					if m&(1<<id) == 0 {
						t.Fatalf("party %d assigned subset %06b it does not hold", id, m)
					}
					seen[m]++
				}
			}
			for _, m := range subs {
				if seen[m] != 1 {
					t.Fatalf("subset %06b assigned %d times", m, seen[m])
				}
			}
		}
	}
	if _, err := ParamsFor(1, 3); err == nil {
		t.Fatal("1-of-3 accepted")
	}
	if _, err := ParamsFor(4, 7); err == nil {
		t.Fatal("4-of-7 accepted")
	}
}

// TestRadii re-derives r and r′ from the formulas of threshold-mldsa.md §3.2
// (φ = 8, per-shape exponents) and checks the table to within 2.
func TestRadii(t *testing.T) {
	exps := map[[2]int]float64{
		{2, 2}: 1.9, {2, 3}: 2.5, {3, 3}: 2.8, {2, 4}: 2.5, {3, 4}: 4, {4, 4}: 4.4,
		{2, 5}: 3, {3, 5}: 5.2, {4, 5}: 7, {5, 5}: 5.6, {2, 6}: 2.9, {3, 6}: 6,
		{4, 6}: 8.8, {5, 6}: 9, {6, 6}: 6.9,
	}
	const phi, dim = 8.0, float64(dimAll)
	sigmaT := math.Sqrt((81.0 - 1) / 12)
	for _, row := range paramTable {
		p, _ := ParamsFor(row.t, row.n)
		e := exps[[2]int{p.T, p.N}]
		m := math.Pow(2, e/float64(p.T))
		b := 1.3 * math.Sqrt((6+5/(p.Nu*p.Nu))*256*float64(p.maxLoad())) * sigmaT * math.Sqrt(49)
		m2 := math.Pow(m, 2/dim)
		r := b * (1/phi + math.Sqrt(1/(phi*phi)+m2-1)) / (m2 - 1)
		rp := math.Pow(m, 1/dim) * r
		if math.Abs(r-p.R) > 2 || math.Abs(rp-p.RPrime) > 2 {
			t.Errorf("%d-of-%d: derived r=%.1f r′=%.1f, table %v %v", p.T, p.N, r, rp, p.R, p.RPrime)
		}
	}
}

func TestDefaultBudget(t *testing.T) {
	for _, row := range paramTable {
		p, _ := ParamsFor(row.t, row.n)
		b := p.DefaultBudget()
		if bits.OnesCount64(b) != 1 || math.Log2(float64(b)) > p.log2ProofBound()-2 {
			t.Fatalf("%d-of-%d: budget %d not ≥ 4× below 2^%.1f", p.T, p.N, b, p.log2ProofBound())
		}
	}
}
