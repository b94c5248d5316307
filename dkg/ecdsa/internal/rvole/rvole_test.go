package rvole

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/ote"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

func dealerSetup() (*ote.SenderSetup, *ote.ReceiverSetup) {
	rs := new(ote.ReceiverSetup)
	ss := new(ote.SenderSetup)
	rand.Read(ss.Delta[:])
	for i := 0; i < ote.Kappa; i++ {
		rand.Read(rs.K0[i][:])
		rand.Read(rs.K1[i][:])
		if ss.Bit(i) == 1 {
			ss.K[i] = rs.K1[i]
		} else {
			ss.K[i] = rs.K0[i]
		}
	}
	return ss, rs
}

type fixture struct {
	ss  *ote.SenderSetup
	rs  *ote.ReceiverSetup
	g   *Gadget
	ctx transcript.Context
	a   [L]*p384.Scalar
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{ctx: transcript.Context{Sender: 1, Receiver: 2, Round: 1}}
	f.ss, f.rs = dealerSetup()
	rand.Read(f.ctx.SessionID[:])
	f.g = NewGadget(f.ctx.KeyID, 1, 2)
	for h := range f.a {
		f.a[h], _ = p384.NewScalar().Random(rand.Reader)
	}
	return f
}

func checkProduct(t *testing.T, a [L]*p384.Scalar, chi *p384.Scalar, c, d [L]*p384.Scalar) {
	t.Helper()
	for h := 0; h < L; h++ {
		sum := p384.NewScalar().Add(c[h], d[h])
		if sum.Equal(p384.NewScalar().Mul(a[h], chi)) != 1 {
			t.Fatalf("c_%d + d_%d != a_%d·χ", h, h, h)
		}
	}
}

func TestProduct(t *testing.T) {
	f := newFixture(t)
	r, m1, chi, err := NewReceiver(rand.Reader, f.rs, f.g, f.ctx)
	if err != nil {
		t.Fatal(err)
	}
	c, m2, err := Send(rand.Reader, f.ss, f.g, f.ctx, f.a, m1)
	if err != nil {
		t.Fatal(err)
	}
	d, err := r.Finish(m2)
	if err != nil {
		t.Fatal(err)
	}
	checkProduct(t, f.a, chi, c, d)
	if _, err := r.Finish(m2); !errors.Is(err, ErrState) {
		t.Fatal("receiver state reused")
	}
}

// The selective-failure property of the gadget encoding: a sender that
// corrupts row j (consistently, before θ and μ are derived) is caught iff
// β_j = 1, and when β_j = 0 the result is still correct.
func TestSelectiveFailure(t *testing.T) {
	f := newFixture(t)
	for _, want := range []byte{1, 0, 1, 0} {
		r, m1, chi, err := NewReceiver(rand.Reader, f.rs, f.g, f.ctx)
		if err != nil {
			t.Fatal(err)
		}
		j := 0
		for j < Xi && r.bit(j) != want {
			j++
		}
		if j == Xi {
			t.Fatal("no choice bit with the wanted value")
		}
		for h := 0; h < width; h++ {
			c, m2, err := SendTampered(rand.Reader, f.ss, f.g, f.ctx, f.a, m1, func(at []byte) {
				off := (j*width + h) * p384.ScalarSize
				v, _ := p384.NewScalar().SetBytes(at[off : off+p384.ScalarSize])
				v.Add(v, p384.ScalarFromUint64(12345))
				v.PutBytes(at[off:])
			})
			if err != nil {
				t.Fatal(err)
			}
			rr := *r // the same receiver state for each column (deep copy)
			rr.rows = new(ote.Rows)
			*rr.rows = *r.rows
			d, err := rr.Finish(m2)
			if want == 1 {
				if !errors.Is(err, ErrCheck) {
					t.Fatalf("row %d column %d with β=1 tampered but not detected: %v", j, h, err)
				}
			} else {
				if err != nil {
					t.Fatalf("row %d column %d with β=0: unexpected error %v", j, h, err)
				}
				checkProduct(t, f.a, chi, c, d)
			}
		}
	}
}

func TestTamperedMessageAborts(t *testing.T) {
	f := newFixture(t)
	for _, off := range []int{0, NonceSize + 100, NonceSize + Xi*width*p384.ScalarSize + 5, Msg2Size - 1} {
		r, m1, _, _ := NewReceiver(rand.Reader, f.rs, f.g, f.ctx)
		_, m2, err := Send(rand.Reader, f.ss, f.g, f.ctx, f.a, m1)
		if err != nil {
			t.Fatal(err)
		}
		m2[off] ^= 1
		if _, err := r.Finish(m2); err == nil {
			t.Fatalf("tampered byte %d accepted", off)
		}
	}
	r, m1, _, _ := NewReceiver(rand.Reader, f.rs, f.g, f.ctx)
	_, m2, _ := Send(rand.Reader, f.ss, f.g, f.ctx, f.a, m1)
	copy(m2[NonceSize:], p384.Order())
	if _, err := r.Finish(m2); !errors.Is(err, ErrScalar) {
		t.Fatalf("scalar ≥ n accepted: %v", err)
	}
}

func TestCheatingOTReceiverCaught(t *testing.T) {
	f := newFixture(t)
	_, m1, _, _ := NewReceiver(rand.Reader, f.rs, f.g, f.ctx)
	for i := 0; i < ote.Kappa; i++ {
		m1[NonceSize+i*ote.ColBytes+7] ^= 4
	}
	if _, _, err := Send(rand.Reader, f.ss, f.g, f.ctx, f.a, m1); !errors.Is(err, ote.ErrCheck) {
		t.Fatalf("got %v, want ote.ErrCheck", err)
	}
}

// A replayed receiver message must not let the receiver learn the sender's
// input difference: with the sender's nonce mixed in, ã − ã′ ≠ a − a′.
func TestReplayNonceMixing(t *testing.T) {
	f := newFixture(t)
	_, m1, _, _ := NewReceiver(rand.Reader, f.rs, f.g, f.ctx)
	_, m2, err := Send(rand.Reader, f.ss, f.g, f.ctx, f.a, m1)
	if err != nil {
		t.Fatal(err)
	}
	var a2 [L]*p384.Scalar
	for h := range a2 {
		a2[h], _ = p384.NewScalar().Random(rand.Reader)
	}
	_, m2b, err := Send(rand.Reader, f.ss, f.g, f.ctx, a2, m1)
	if err != nil {
		t.Fatal(err)
	}
	at := func(m []byte) *p384.Scalar {
		s, _ := p384.NewScalar().SetBytes(m[NonceSize : NonceSize+p384.ScalarSize])
		return s
	}
	diff := p384.NewScalar().Sub(at(m2), at(m2b))
	inDiff := p384.NewScalar().Sub(f.a[0], a2[0])
	if diff.Equal(inDiff) == 1 {
		t.Fatal("replay reveals the input difference")
	}
	if bytes.Equal(m2[:NonceSize], m2b[:NonceSize]) {
		t.Fatal("sender nonce repeated")
	}
}

func BenchmarkReceiverRound1(b *testing.B) {
	f := newFixture(nil)
	for b.Loop() {
		NewReceiver(rand.Reader, f.rs, f.g, f.ctx)
	}
}

func BenchmarkSend(b *testing.B) {
	f := newFixture(nil)
	_, m1, _, _ := NewReceiver(rand.Reader, f.rs, f.g, f.ctx)
	for b.Loop() {
		Send(rand.Reader, f.ss, f.g, f.ctx, f.a, m1)
	}
}

func BenchmarkFinish(b *testing.B) {
	f := newFixture(nil)
	for b.Loop() {
		b.StopTimer()
		r, m1, _, _ := NewReceiver(rand.Reader, f.rs, f.g, f.ctx)
		_, m2, _ := Send(rand.Reader, f.ss, f.g, f.ctx, f.a, m1)
		b.StartTimer()
		r.Finish(m2)
	}
}
