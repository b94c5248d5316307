package fips204

import (
	"bytes"
	"crypto/rand"
	mrand "math/rand/v2"
	"testing"
)

// modQRef is the definition of ModQ: the remainder of a by q, made
// non-negative.
func modQRef(a int32) uint32 {
	r := a % Q
	if r < 0 {
		r += Q
	}
	return uint32(r)
}

// unpackW23Ref decodes with the generic bit unpacker and checks the range
// coefficient by coefficient.
func unpackW23Ref(p *Poly, src []byte) error {
	if len(src) != PolyW23Size {
		return ErrLength
	}
	unpackBits((*[N]uint32)(p), src, 23)
	for _, x := range p {
		if x >= Q {
			return ErrRange
		}
	}
	return nil
}

func TestModQ(t *testing.T) {
	const lim = 1<<31 - Q // |a| < lim
	check := func(a int32) {
		if got, want := ModQ(a), modQRef(a); got != want {
			t.Fatalf("ModQ(%d) = %d, want %d", a, got, want)
		}
	}
	for _, a := range []int32{0, 1, -1, Q, -Q, Q - 1, -(Q - 1), Q + 1, 2 * Q, -2 * Q, 1 << 22, -(1 << 22),
		1<<22 - 1, -(1<<22 + 1), 1 << 23, -(1 << 23), lim - 1, -(lim - 1)} {
		check(a)
	}
	// Every value near a multiple of q or of 2^22, over the whole range.
	for m := int32(-(lim / Q)); m <= lim/Q; m++ {
		for d := int32(-300); d <= 300; d++ {
			if a := int64(m)*Q + int64(d); a > -lim && a < lim {
				check(int32(a))
			}
		}
	}
	for m := int32(-(lim >> 22)); m <= lim>>22; m++ {
		for d := int32(-300); d <= 300; d++ {
			if a := int64(m)<<22 + int64(d); a > -lim && a < lim {
				check(int32(a))
			}
		}
	}
	// Every value of the range the protocol uses (|a| < 2^24), and random
	// ones over the whole range.
	n := 1 << 24
	if testing.Short() {
		n = 1 << 20
	}
	for a := int32(-n); a <= int32(n); a++ {
		check(a)
	}
	r := mrand.New(mrand.NewPCG(3, 4))
	for range 1 << 20 {
		check(int32(r.Int64N(2*lim-1) - (lim - 1)))
	}
}

// TestHighBits checks HighBits against Decompose for every r in [0, q).
func TestHighBits(t *testing.T) {
	for r := uint32(0); r < Q; r++ {
		if r1, _ := Decompose(r); HighBits(r) != r1 {
			t.Fatalf("HighBits(%d) = %d, Decompose gives %d", r, HighBits(r), r1)
		}
	}
}

// TestPackHighBits checks the two-lane HighBits packing against HighBits
// and PackW1 for every value in [0, q) in both lanes.
func TestPackHighBits(t *testing.T) {
	var p, w1 Poly
	var got, want [PolyW1Size]byte
	for base := uint32(0); base < Q; base += N / 2 {
		for swap := range 2 {
			for i := 0; i < N/2; i++ {
				v := min(base+uint32(i), Q-1)
				p[2*i+swap], p[2*i+1-swap] = v, Q-1-v
			}
			for j, c := range p {
				w1[j] = HighBits(c)
			}
			PackW1(want[:], &w1)
			packHighBits(got[:], &p)
			if got != want {
				t.Fatalf("packHighBits differs from HighBits+PackW1 near %d", base)
			}
		}
	}
}

// TestZAgainstReference compares PackZ, UnpackZ and unpackZ with the generic
// 20-bit packer, on every coefficient value and on random byte strings.
func TestZAgainstReference(t *testing.T) {
	var z, z2 [N]int32
	var got, want [PolyZSize]byte
	var v [N]uint32
	for it := 0; it < 2*(2*Gamma1/(N/2)); it++ {
		// Every value in both positions of a pair: consecutive values in
		// one parity of positions, the other end of the range in the other.
		base, swap := -(Gamma1-1)+(it/2)*(N/2), it%2
		for i := range z {
			c := min(int32(base+i/2), Gamma1)
			if i%2 == swap {
				z[i] = c
			} else {
				z[i] = 1 - c
			}
			v[i] = uint32(Gamma1 - z[i])
		}
		PackZ(got[:], &z)
		packBits(want[:], &v, 20)
		if got != want {
			t.Fatalf("PackZ differs from packBits near %d", base)
		}
		UnpackZ(&z2, got[:])
		if z2 != z {
			t.Fatalf("UnpackZ round trip fails near %d", base)
		}
	}
	r := mrand.New(mrand.NewPCG(7, 8))
	for range 2000 {
		var b [PolyZSize]byte
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		unpackBits(&v, b[:], 20)
		UnpackZ(&z, b[:])
		var p Poly
		unpackZ(&p, b[:])
		for i := range z {
			if want := Gamma1 - int32(v[i]); z[i] != want || p[i] != modQRef(want) {
				t.Fatalf("UnpackZ/unpackZ differ from unpackBits at %d", i)
			}
		}
		PackZ(got[:], &z)
		if got != b {
			t.Fatal("PackZ(UnpackZ(b)) != b")
		}
	}
}

// TestW23AgainstReference compares PackW23, UnpackW23 and AddW23 with the
// generic bit packer on random, extreme and out-of-range inputs.
func TestW23AgainstReference(t *testing.T) {
	r := mrand.New(mrand.NewPCG(5, 6))
	for it := 0; it < 2000; it++ {
		var p Poly
		for i := range p {
			switch it % 4 {
			case 0:
				p[i] = uint32(r.IntN(Q))
			case 1:
				p[i] = Q - 1 - uint32(r.IntN(3))
			case 2:
				p[i] = uint32(r.IntN(3))
			default:
				p[i] = []uint32{0, Q - 1, 1 << 22, 1<<22 - 1}[r.IntN(4)]
			}
		}
		var got, want [PolyW23Size]byte
		PackW23(got[:], &p)
		packBits(want[:], (*[N]uint32)(&p), 23)
		if got != want {
			t.Fatalf("iteration %d: PackW23 differs from packBits", it)
		}
		// PackW23 must write exactly its 736 bytes.
		buf := bytes.Repeat([]byte{0xa5}, 3*PolyW23Size)
		PackW23(buf[PolyW23Size:], &p)
		if !bytes.Equal(buf[PolyW23Size:2*PolyW23Size], want[:]) || bytes.Count(buf[:PolyW23Size], []byte{0xa5}) != PolyW23Size ||
			bytes.Count(buf[2*PolyW23Size:], []byte{0xa5}) != PolyW23Size {
			t.Fatalf("iteration %d: PackW23 wrote outside its 736 bytes", it)
		}
		var q Poly
		if err := UnpackW23(&q, got[:]); err != nil || q != p {
			t.Fatalf("iteration %d: UnpackW23 round trip: %v", it, err)
		}
	}
	// Random byte strings, most with some coefficient ≥ q.
	for it := 0; it < 3000; it++ {
		var b [PolyW23Size]byte
		rand.Read(b[:])
		if it%3 == 0 {
			// Clear bit 22 of every coefficient but one random one.
			var v [N]uint32
			unpackBits(&v, b[:], 23)
			keep := r.IntN(N + 1)
			for i := range v {
				if i != keep {
					v[i] &^= 1 << 22
				}
			}
			packBits(b[:], &v, 23)
		}
		checkW23(t, b[:])
	}
	if err := UnpackW23(new(Poly), make([]byte, PolyW23Size-1)); err != ErrLength {
		t.Fatalf("short input: %v", err)
	}
	if err := AddW23(new(Poly), make([]byte, PolyW23Size+1)); err != ErrLength {
		t.Fatalf("long input: %v", err)
	}
}

// checkW23 compares UnpackW23 and AddW23 with the reference on src.
func checkW23(t *testing.T, src []byte) {
	var want, got Poly
	errWant := unpackW23Ref(&want, src)
	errGot := UnpackW23(&got, src)
	if errGot != errWant {
		t.Fatalf("UnpackW23 error %v, reference %v", errGot, errWant)
	}
	if errWant != nil {
		var acc Poly
		if AddW23(&acc, src) != errWant {
			t.Fatal("AddW23 accepted an out-of-range coefficient")
		}
		return
	}
	if got != want {
		t.Fatal("UnpackW23 differs from the reference")
	}
	var acc, sum Poly
	for i := range acc {
		acc[i] = uint32(i*32771) % Q
		sum[i] = acc[i]
	}
	acc[7], sum[7] = Q-1, Q-1
	sum.Add(&sum, &want)
	if err := AddW23(&acc, src); err != nil || acc != sum {
		t.Fatalf("AddW23 differs from UnpackW23 + Add: %v", err)
	}
	var re [PolyW23Size]byte
	PackW23(re[:], &got)
	if !bytes.Equal(re[:], src) {
		t.Fatal("decoding is not canonical")
	}
}

// FuzzUnpackW23 compares the word-at-a-time 23-bit decoder with the generic
// one on arbitrary inputs.
func FuzzUnpackW23(f *testing.F) {
	f.Add(make([]byte, PolyW23Size))
	f.Add(bytes.Repeat([]byte{0xff}, PolyW23Size))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != PolyW23Size {
			var p Poly
			if UnpackW23(&p, b) != ErrLength || AddW23(&p, b) != ErrLength {
				t.Fatal("wrong length accepted")
			}
			return
		}
		checkW23(t, b)
	})
}

func BenchmarkPackW23(b *testing.B) {
	var p Poly
	for i := range p {
		p[i] = uint32(i*7919) % Q
	}
	var out [PolyW23Size]byte
	for b.Loop() {
		PackW23(out[:], &p)
	}
}

func BenchmarkUnpackW23(b *testing.B) {
	var p Poly
	var src [PolyW23Size]byte
	for b.Loop() {
		if err := UnpackW23(&p, src[:]); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkChallengeHash(b *testing.B) {
	var w VecK
	for i := range w {
		for j := range w[i] {
			w[i][j] = uint32(i*N+j) * 4099 % Q
		}
	}
	var mu [MuSize]byte
	var c [CTildeSize]byte
	for b.Loop() {
		ChallengeHash(c[:], &mu, &w)
	}
}
