//go:build amd64 && !purego

package fips204

import (
	"crypto/rand"
	mrand "math/rand/v2"
	"syscall"
	"testing"
)

// TestW23Kernels compares the AVX2 23-bit decoder with the portable one, in
// both modes, on random encodings (with and without coefficients ≥ q) and
// random accumulators, and checks that it reads nothing past the 736 bytes:
// the encoding is placed at the very end of a page followed by an
// inaccessible page.
func TestW23Kernels(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	page := syscall.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, 2*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_ANON|syscall.MAP_PRIVATE)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mem)
	if err := syscall.Mprotect(mem[page:], syscall.PROT_NONE); err != nil {
		t.Fatal(err)
	}
	src := mem[page-PolyW23Size : page]
	r := mrand.New(mrand.NewPCG(9, 10))
	for it := 0; it < 20000; it++ {
		rand.Read(src)
		if it%2 == 0 {
			// Mostly in range: clear bit 22 of all coefficients but a few.
			var v [N]uint32
			unpackBits(&v, src, 23)
			for i := range v {
				if r.IntN(64) != 0 {
					v[i] &^= 1 << 22
				}
			}
			if it%4 == 0 {
				v[r.IntN(N)] = Q - 1
				v[N-1] = uint32(r.IntN(Q))
			}
			packBits(src, &v, 23)
		}
		var acc Poly
		for i := range acc {
			acc[i] = uint32(r.IntN(Q))
		}
		for _, add := range []bool{false, true} {
			a, b := acc, acc
			fa := w23AVX2(&a, (*[PolyW23Size]byte)(src), add)
			fb := decodeW23Generic(&b, src, add)
			if fa != fb {
				t.Fatalf("iteration %d add=%v: range flag %d, portable %d", it, add, fa, fb)
			}
			if fb == 0 && a != b {
				t.Fatalf("iteration %d add=%v: AVX2 result differs from the portable decoder", it, add)
			}
			if fb != 0 && !add && a != b {
				t.Fatalf("iteration %d: AVX2 raw decoding differs on an out-of-range input", it)
			}
		}
	}
}
