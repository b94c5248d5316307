package mldsa

import (
	"fmt"
	"math"
	"math/bits"

	"github.com/cc-tsa/cc-tsa/dkg/mldsa/internal/fips204"
)

// MaxParties is the largest N the scheme has parameters for.
const MaxParties = 6

// Dimensions of the hyperball: n·ℓ mask coordinates and n·k error coordinates.
const (
	dimY   = fips204.N * fips204.L // 1280
	dimE   = fips204.N * fips204.K // 1536
	dimAll = dimY + dimE           // 2816
)

// Params are the threshold parameters of one (T, N) shape for ML-DSA-65
// (paper Fig. 10 with the corrected ν = 6 and r/r′ values).
type Params struct {
	T, N   int     // threshold and number of parties
	K      int     // parallel slots per attempt
	R      float64 // acceptance radius r of the local L2 test
	RPrime float64 // radius r′ of the sampling hyperball
	Nu     float64 // ν: scale of the mask coordinates against the error ones
}

type paramRow struct {
	t, n, k   int
	r, rPrime float64
}

// paramTable holds K, r, r′ for ML-DSA-65 (threshold-mldsa.md §3.2).
var paramTable = [...]paramRow{
	{2, 2, 3, 501495, 501613},
	{2, 3, 5, 540212, 540378},
	{3, 3, 9, 510387, 510504},
	{2, 4, 6, 540212, 540378},
	{3, 4, 20, 506761, 506928},
	{4, 4, 26, 433594, 433711},
	{2, 5, 8, 552371, 552575},
	{3, 5, 62, 552909, 553145},
	{4, 5, 205, 474331, 474535},
	{5, 5, 78, 425914, 426032},
	{2, 6, 8, 571208, 571412},
	{3, 6, 95, 536793, 537058},
	{4, 6, 804, 488704, 488969},
	{5, 6, 1200, 461324, 461529},
	{6, 6, 250, 414896, 415013},
}

// maxSlots is the largest K of the table (bounds every decoder).
const maxSlots = 1200

// ParamsFor returns the parameters for a T-of-N key, 2 ≤ T ≤ N ≤ 6.
func ParamsFor(t, n int) (Params, error) {
	for _, p := range paramTable {
		if p.t == t && p.n == n {
			return Params{T: t, N: n, K: p.k, R: p.r, RPrime: p.rPrime, Nu: 6}, nil
		}
	}
	return Params{}, fmt.Errorf("mldsa: no parameters for %d-of-%d (need 2 ≤ T ≤ N ≤ %d)", t, n, MaxParties)
}

// log2ProofBound is log2 of the signing-session bound of Theorem 3.2 for K
// slots: Qs = 2 / (K · I_{1−1/φ²}((dim+1)/2, 1/2)) with φ = 8, where the
// incomplete beta value ≈ 2.74·10^−11 ≈ 2^−35.09 (threshold-mldsa.md §3.9).
func (p Params) log2ProofBound() float64 {
	return 1 + 35.09 - math.Log2(float64(p.K))
}

// DefaultBudget is the default number of signing sessions (attempts) a key
// share accepts: a power of two at least four times below the bound of the
// security proof (≈2^30 sessions for 3-of-5, so 2^28).
func (p Params) DefaultBudget() uint64 {
	return 1 << uint(math.Floor(p.log2ProofBound())-2)
}

// validate checks a Params value against the table.
func (p Params) validate() error {
	q, err := ParamsFor(p.T, p.N)
	if err != nil {
		return err
	}
	if q != p {
		return fmt.Errorf("mldsa: parameters for %d-of-%d differ from the table", p.T, p.N)
	}
	return nil
}

// subsets lists the subsets of {0..n-1} with n−t+1 members as bit masks,
// in increasing order.
func subsets(t, n int) []uint8 {
	var out []uint8
	for m := 0; m < 1<<n; m++ {
		if bits.OnesCount(uint(m)) == n-t+1 {
			out = append(out, uint8(m))
		}
	}
	return out
}

func binom(n, k int) int {
	r := 1
	for i := 0; i < k; i++ {
		r = r * (n - i) / (i + 1)
	}
	return r
}

// maxLoad is ⌈C(N, T−1)/T⌉, the number of subset secrets the heaviest signer
// sums in the parameters' bound B.
func (p Params) maxLoad() int {
	c := binom(p.N, p.T-1)
	return (c + p.T - 1) / p.T
}

// partition assigns every subset to one signer of act (a bit mask of T
// parties) that belongs to it, with at most maxLoad subsets per signer. The
// assignment is a deterministic function of (T, N, act), so every party
// computes the same one. It returns, per party id, the mask list it sums.
func (p Params) partition(act uint8) ([MaxParties][]uint8, error) {
	var out [MaxParties][]uint8
	subs := subsets(p.T, p.N)
	limit := p.maxLoad()
	assign := make([]int, len(subs))
	var load [MaxParties]int
	var dfs func(i int) bool
	dfs = func(i int) bool {
		if i == len(subs) {
			return true
		}
		cand := subs[i] & act
		for j := 0; j < p.N; j++ {
			if cand&(1<<j) == 0 || load[j] >= limit {
				continue
			}
			load[j]++
			assign[i] = j
			if dfs(i + 1) {
				return true
			}
			load[j]--
		}
		return false
	}
	if !dfs(0) {
		return out, fmt.Errorf("mldsa: no balanced partition for signer set %05b", act)
	}
	for i, s := range subs {
		out[assign[i]] = append(out[assign[i]], s)
	}
	return out, nil
}
