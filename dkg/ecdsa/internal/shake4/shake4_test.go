package shake4

import (
	"bytes"
	"crypto/rand"
	"crypto/sha3"
	"errors"
	"fmt"
	"runtime"
	"syscall"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/cpufeat"
)

func randomPrefix(t testing.TB, blocks int) *sha3.SHAKE {
	h := sha3.NewSHAKE256()
	b := make([]byte, blocks*Rate)
	rand.Read(b)
	// Write in uneven pieces so the state is reached the usual way.
	for len(b) > 0 {
		n := min(len(b), 7+len(b)%50)
		h.Write(b[:n])
		b = b[n:]
	}
	return h
}

func reference(prefix *sha3.SHAKE, msg []byte, n int) []byte {
	h := *prefix
	h.Write(msg)
	out := make([]byte, n)
	h.Read(out)
	return out
}

func TestSum4MatchesSHAKE256(t *testing.T) {
	if !cpufeat.AVX2() {
		t.Log("no AVX2: only the crypto/sha3 path is tested")
	}
	for _, blocks := range []int{0, 1, 3} {
		pre := randomPrefix(t, blocks)
		p, err := NewPrefix(pre)
		if err != nil {
			t.Fatal(err)
		}
		for _, mlen := range []int{0, 1, 7, 8, 40, 127, 134, 135, 136, 137, 271, 272, 273, 1000, 5760} {
			for _, olen := range []int{0, 1, 8, 96, 135, 136, 137, 144, 272, 273, 500} {
				var msg, out [4][]byte
				for k := range msg {
					msg[k] = make([]byte, mlen)
					rand.Read(msg[k])
					out[k] = make([]byte, olen)
				}
				for _, vector := range []bool{false, true} {
					if vector && !cpufeat.AVX2() {
						continue
					}
					p.vector = vector
					p.Sum4(&msg, &out)
					for k := range out {
						if want := reference(pre, msg[k], olen); !bytes.Equal(out[k], want) {
							t.Fatalf("blocks %d, message %d, output %d, vector %v, lane %d: differs from SHAKE256", blocks, mlen, olen, vector, k)
						}
					}
				}
			}
		}
	}
}

func TestSum4LanesIndependent(t *testing.T) {
	// Equal messages give equal outputs, and changing one message changes
	// only its own output.
	p, err := NewPrefix(randomPrefix(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	var msg, out, out2 [4][]byte
	for k := range msg {
		msg[k] = bytes.Repeat([]byte{0x5a}, 40)
		out[k] = make([]byte, 144)
		out2[k] = make([]byte, 144)
	}
	p.Sum4(&msg, &out)
	for k := 1; k < 4; k++ {
		if !bytes.Equal(out[k], out[0]) {
			t.Fatal("equal messages, different outputs")
		}
	}
	msg[2] = bytes.Repeat([]byte{0x5b}, 40)
	p.Sum4(&msg, &out2)
	for k := range out {
		if bytes.Equal(out[k], out2[k]) != (k != 2) {
			t.Fatalf("lane %d: wrong dependence on message 2", k)
		}
	}
}

func TestNewPrefixRejects(t *testing.T) {
	h := sha3.NewSHAKE256()
	h.Write(make([]byte, Rate+1))
	if _, err := NewPrefix(h); !errors.Is(err, ErrState) {
		t.Fatalf("mid-block state: %v", err)
	}
	h = sha3.NewSHAKE256()
	h.Write(make([]byte, Rate))
	h.Read(make([]byte, 1))
	if _, err := NewPrefix(h); !errors.Is(err, ErrState) {
		t.Fatalf("squeezing state: %v", err)
	}
	h = sha3.NewSHAKE128()
	if _, err := NewPrefix(h); !errors.Is(err, ErrState) {
		t.Fatalf("SHAKE128: %v", err)
	}
	h = sha3.NewCSHAKE256(nil, []byte("x"))
	if _, err := NewPrefix(h); err == nil {
		t.Fatal("cSHAKE accepted")
	}
	// NewPrefix does not disturb h.
	h = randomPrefix(t, 2)
	want := reference(h, []byte("m"), 50)
	if _, err := NewPrefix(h); err != nil {
		t.Fatal(err)
	}
	if got := reference(h, []byte("m"), 50); !bytes.Equal(got, want) {
		t.Fatal("NewPrefix changed the state")
	}
}

func TestSum4PanicsOnBadLengths(t *testing.T) {
	p, _ := NewPrefix(sha3.NewSHAKE256())
	for i, f := range []func(msg, out *[4][]byte){
		func(msg, out *[4][]byte) { msg[3] = make([]byte, 41) },
		func(msg, out *[4][]byte) { out[1] = make([]byte, 10) },
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			var msg, out [4][]byte
			for k := range msg {
				msg[k] = make([]byte, 40)
				out[k] = make([]byte, 144)
			}
			f(&msg, &out)
			defer func() {
				if recover() == nil {
					t.Fatal("no panic")
				}
			}()
			p.Sum4(&msg, &out)
		})
	}
}

func benchSum4(b *testing.B, vector bool) {
	if vector && !cpufeat.AVX2() {
		b.Skip("no AVX2")
	}
	p, _ := NewPrefix(randomPrefix(b, 1))
	p.vector = vector
	var msg, out [4][]byte
	for k := range msg {
		msg[k] = make([]byte, 40)
		out[k] = make([]byte, 144)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU(b)
	for b.Loop() {
		p.Sum4(&msg, &out)
	}
	b.ReportMetric(float64(threadCPU(b)-c0)/float64(b.N), "cpu-ns/op")
}

// threadCPU returns the calling thread's CPU time in ns (RUSAGE_THREAD),
// robust against other load on the machine.
func threadCPU(b *testing.B) int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkSum4 is four random-OT-shaped hashes (40-byte message, 144-byte
// output: two permutations each).
func BenchmarkSum4(b *testing.B) { benchSum4(b, true) }

// BenchmarkSum4Sequential is the same through crypto/sha3, one at a time.
func BenchmarkSum4Sequential(b *testing.B) { benchSum4(b, false) }

// BenchmarkPermute4 is one four-way Keccak-f[1600] (thread CPU time).
func BenchmarkPermute4(b *testing.B) {
	if !cpufeat.AVX2() {
		b.Skip("no AVX2")
	}
	var s [25][4]uint64
	for i := range s {
		s[i] = [4]uint64{uint64(i), 2, 3, 4}
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	c0 := threadCPU(b)
	for b.Loop() {
		permute4(&s)
	}
	b.ReportMetric(float64(threadCPU(b)-c0)/float64(b.N), "cpu-ns/op")
}

func TestSum4PartsMatchesSHAKE256(t *testing.T) {
	pre := randomPrefix(t, 1)
	p, err := NewPrefix(pre)
	if err != nil {
		t.Fatal(err)
	}
	for _, hl := range []int{0, 8, 135, 136, 137, 300} {
		for _, bl := range []int{0, 1, 128, 136, 1000} {
			var head, body, out [4][]byte
			for k := range head {
				head[k], body[k], out[k] = make([]byte, hl), make([]byte, bl), make([]byte, 64)
				rand.Read(head[k])
				rand.Read(body[k])
			}
			for _, vector := range []bool{false, true} {
				if vector && !cpufeat.AVX2() {
					continue
				}
				p.vector = vector
				p.Sum4Parts(&head, &body, &out)
				for k := range out {
					want := reference(pre, append(append([]byte(nil), head[k]...), body[k]...), 64)
					if !bytes.Equal(out[k], want) {
						t.Fatalf("head %d, body %d, vector %v, lane %d: differs from SHAKE256", hl, bl, vector, k)
					}
				}
			}
		}
	}
}
