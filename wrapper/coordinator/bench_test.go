package coordinator_test

import (
	"context"
	"crypto/sha512"
	"fmt"
	"os"
	"runtime/pprof"
	"syscall"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/coordinator"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
)

// benchCluster starts an in-process 3-of-5 cluster and issues a first
// hybrid token; it returns the cluster and the request fields.
func benchCluster(b *testing.B) (*testtsa.Cluster, *wire.TokenFields) {
	c := testtsa.StartCluster(b, 5, 3)
	d := sha512.Sum384([]byte("bench"))
	f := &wire.TokenFields{Policy: wire.PolicyHybrid, HashAlg: wire.SHA384, Imprint: d[:], CertReq: true}
	if _, err := c.Coordinator.Issue(context.Background(), f); err != nil {
		b.Fatal(err)
	}
	return c, f
}

// BenchmarkClusterToken issues hybrid tokens from an in-process 3-of-5
// cluster (all five oracles, the coordinator and the presignature pool in
// this process): ns/op is the latency of one token with warm pools at the
// given parallelism, and the CPU profile shows where the time goes.
func BenchmarkClusterToken(b *testing.B) {
	c, f := benchCluster(b)
	ctx := context.Background()
	st := c.Coordinator.Stats()
	att0, bytes0 := st.MLDSAAttempts.Load(), st.RelayedBytes.Load()
	// CC_TSA_BENCH_PROFILE=FILE profiles the measured loop only (not the
	// ceremony).
	if path := os.Getenv("CC_TSA_BENCH_PROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			b.Fatal(err)
		}
		pprof.StartCPUProfile(f)
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := c.Coordinator.Issue(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(st.MLDSAAttempts.Load()-att0)/float64(b.N), "attempts/token")
	b.ReportMetric(float64(st.RelayedBytes.Load()-bytes0)/float64(b.N), "relayed-B/token")
}

// BenchmarkClusterTokenPaced issues tokens one at a time with a pause
// between them (not timed) in which the oracles refill their pools: ns/op
// is the latency with warm pools, and the stage metrics (ms/op each) show
// where a session's wall time goes.
func BenchmarkClusterTokenPaced(b *testing.B) {
	c, f := benchCluster(b)
	ctx := context.Background()
	st := c.Coordinator.Stats()
	var stage0 [coordinator.NumStages]uint64
	for s := range stage0 {
		stage0[s] = st.StageNanos[s].Load()
	}
	att0 := st.MLDSAAttempts.Load()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		time.Sleep(300 * time.Millisecond)
		b.StartTimer()
		if _, err := c.Coordinator.Issue(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(st.MLDSAAttempts.Load()-att0)/float64(b.N), "attempts/token")
	for s := coordinator.Stage(0); s < coordinator.NumStages; s++ {
		b.ReportMetric(float64(st.StageNanos[s].Load()-stage0[s])/1e6/float64(b.N), s.String()+"-ms/op")
	}
}

// BenchmarkPresignBatch makes presignatures among one signer set in
// batches of 1 and of 4 (the pool's refill size): ns/op is per
// presignature, cpu-ms/op the CPU of the whole process per presignature.
func BenchmarkPresignBatch(b *testing.B) {
	c := testtsa.StartCluster(b, 5, 3)
	set := c.Coordinator.ReadyNodes()[:3]
	// Let the pool fill all ten sets first, so that its refills are not
	// counted.
	for c.Coordinator.Stats().Presignatures.Load() < 40 {
		time.Sleep(50 * time.Millisecond)
	}
	for _, n := range []int{1, 4} {
		b.Run(fmt.Sprintf("batch=%d", n), func(b *testing.B) {
			cpu0 := processCPU()
			b.ResetTimer()
			for made := 0; made < b.N; made += n {
				if _, err := coordinator.PresignBatch(c.Coordinator, context.Background(), set, n); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/1e6/float64(b.N), "cpu-ms/op")
		})
	}
}

// processCPU returns the CPU time this process used, in nanoseconds.
func processCPU() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
