package mldsa

import (
	"crypto/rand"
	"errors"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the user+system CPU time of the process so far. The machine
// is shared, so benchmarks report CPU time per operation next to wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuMeter reports CPU milliseconds per operation for the timed region.
type cpuMeter struct {
	total time.Duration
	start time.Duration
}

func (m *cpuMeter) startT() { m.start = cpuTime() }
func (m *cpuMeter) stopT()  { m.total += cpuTime() - m.start }
func (m *cpuMeter) report(b *testing.B, n int) {
	b.ReportMetric(float64(m.total.Microseconds())/1000/float64(n), "cpu-ms/op")
}

// benchSetup returns a 3-of-5 key and a session run up to the end of round 2
// for signers {0, 1, 2}.
func benchSetup(b *testing.B) (*PublicKey, []*KeyShare) {
	b.Helper()
	pk, shares, err := GenerateKey(rand.Reader, 3, 5)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range shares {
		s.SetBudget(1 << 40)
	}
	return pk, shares
}

// BenchmarkRound1 measures one party's round 1 (hyperball sampling and K = 62
// products A·y) for 3-of-5.
func BenchmarkRound1(b *testing.B) {
	_, shares := benchSetup(b)
	b.ReportAllocs()
	var m cpuMeter
	m.startT()
	for b.Loop() {
		st, err := shares[0].Round1(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		st.Discard()
	}
	m.stopT()
	m.report(b, b.N)
}

// BenchmarkRound3 measures one party's round 3 (commitment checks, K
// challenges, K products c·s and L2 tests) for 3-of-5.
func BenchmarkRound3(b *testing.B) {
	pk, shares := benchSetup(b)
	f := &fixture{pk, shares}
	t := &testing.T{}
	b.ReportAllocs()
	var m cpuMeter
	for b.Loop() {
		b.StopTimer()
		r := f.start(t, []int{0, 1, 2})
		r.round2(t)
		b.StartTimer()
		m.startT()
		if _, err := r.sess[0].Round3(r.revs); err != nil {
			b.Fatal(err)
		}
		m.stopT()
	}
	m.report(b, b.N)
}

// BenchmarkCombine measures Combine for one 3-of-5 attempt (successful or
// not), including the commitment checks and the final verification.
func BenchmarkCombine(b *testing.B) {
	pk, shares := benchSetup(b)
	f := &fixture{pk, shares}
	t := &testing.T{}
	p := shares[0].Params()
	b.ReportAllocs()
	ok := 0
	var m cpuMeter
	defer func() { m.report(b, b.N) }()
	for b.Loop() {
		b.StopTimer()
		r := f.start(t, []int{0, 1, 2})
		r.round2(t)
		r.round3(t)
		b.StartTimer()
		m.startT()
		_, err := Combine(p, pk, r.cfg, r.cmts, r.revs, r.resps)
		m.stopT()
		if err == nil {
			ok++
		} else if !errors.Is(err, ErrNoValidSlot) {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(ok)/float64(b.N), "success/attempt")
}

// BenchmarkSign3of5 measures a whole 3-of-5 signature with the three signers
// and the combiner in one goroutine, retries included, and reports the mean
// attempts and the bytes each signer sends per attempt.
func BenchmarkSign3of5(b *testing.B) {
	pk, shares := benchSetup(b)
	msg := []byte("benchmark message")
	attempts := 0
	b.ReportAllocs()
	var m cpuMeter
	m.startT()
	for b.Loop() {
		_, n := sign(b, pk, shares, []int{0, 2, 4}, msg, nil)
		attempts += n
	}
	m.stopT()
	m.report(b, b.N)
	b.ReportMetric(float64(attempts)/float64(b.N), "attempts/sig")
	p := shares[0].Params()
	b.ReportMetric(float64(3+commitHashSize), "B/round1")
	b.ReportMetric(float64(5+p.K*revealSlotSize), "B/round2")
	// Round 3 sends z only for accepted slots: about K/M of them.
	b.ReportMetric(float64(5+(p.K+7)/8+p.K*zSlotSize), "B/round3-max")
}
