package ote

import (
	"runtime"
	"syscall"
	"testing"
)

func threadCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil { // RUSAGE_THREAD
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// cpuBench reports the calling thread's CPU ns/op (robust against load).
func cpuBench(b *testing.B, f func()) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU(b)
	for b.Loop() {
		f()
	}
	b.ReportMetric(float64(threadCPU(b)-c0)/float64(b.N), "cpu-ns/op")
}

var sinkGF gf128

func BenchmarkGFMulTable(b *testing.B) {
	t := newTable(gf128{lo: 0x0123456789abcdef, hi: 0xfedcba9876543210})
	v := gf128{lo: 0x1111, hi: 0x2222}
	cpuBench(b, func() { v = t.mul(v) })
	sinkGF = v
}

func BenchmarkGFMul(b *testing.B) {
	c := gf128{lo: 0x0123456789abcdef, hi: 0xfedcba9876543210}
	v := gf128{lo: 0x1111, hi: 0x2222}
	cpuBench(b, func() { v = gfMul(c, v) })
	sinkGF = v
}

func benchCompress(b *testing.B, f func(c *[blocks - 1]gf128, v []byte) gf128) {
	var c [blocks - 1]gf128
	for k := range c {
		c[k] = gf128{lo: 0x0123456789abcdef * uint64(k+1), hi: 0xfedcba9876543210 ^ uint64(k)}
	}
	var v [ColBytes]byte
	for i := range v {
		v[i] = byte(i * 37)
	}
	cpuBench(b, func() { sinkGF = f(&c, v[:]) })
}

// BenchmarkCompress is one column's check value C(v) as this build computes
// it (PCLMULQDQ on amd64).
func BenchmarkCompress(b *testing.B) { benchCompress(b, compress) }

// BenchmarkCompressGeneric is the same with the portable gfMul.
func BenchmarkCompressGeneric(b *testing.B) { benchCompress(b, compressGeneric) }
