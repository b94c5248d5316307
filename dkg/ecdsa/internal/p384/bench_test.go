package p384

import (
	"runtime"
	"syscall"
	"testing"
)

// threadCPU returns the calling thread's CPU time in ns (RUSAGE_THREAD = 1);
// the benchmarks lock the goroutine to its thread and report CPU ns/op,
// which is robust against other load on the machine.
func threadCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func cpuBench(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU(b)
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(threadCPU(b)-c0)/float64(b.N), "cpu-ns/op")
}

func benchScalar() *Scalar {
	x := ScalarFromUint64(0x123456789)
	return x.Inverse(x)
}

func BenchmarkScalarMul(b *testing.B) {
	x, y := benchScalar(), benchScalar()
	cpuBench(b, func() { y.Mul(y, x) })
}

func BenchmarkScalarAdd(b *testing.B) {
	x, y := benchScalar(), benchScalar()
	cpuBench(b, func() { y.Add(y, x) })
}

func BenchmarkScalarSetReducedBytes(b *testing.B) {
	buf := benchScalar().Bytes()
	s := NewScalar()
	cpuBench(b, func() { s.SetReducedBytes(buf) })
}

// BenchmarkBigmodMul is the replaced implementation, for comparison.
func BenchmarkBigmodMul(b *testing.B) {
	x := mustNat(b, benchScalar().Bytes())
	y := mustNat(b, benchScalar().Bytes())
	cpuBench(b, func() { y.Mul(x, bigmodN) })
}

func BenchmarkPlainSetReducedBytes(b *testing.B) {
	buf := (*[ScalarSize]byte)(benchScalar().Bytes())
	var p Plain
	cpuBench(b, func() { p.SetReducedBytes(buf) })
}

func BenchmarkPlainMulScalar(b *testing.B) {
	x := benchScalar()
	var p Plain
	p.SetScalar(x)
	cpuBench(b, func() { p.MulScalar(x, &p) })
}
