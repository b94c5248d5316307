package baseot

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

func run(t *testing.T, tamper func(step int, msg []byte)) (*SenderOutput, *ReceiverOutput, error) {
	t.Helper()
	ctx := transcript.Context{Sender: 2, Receiver: 1}
	s, m1, err := NewSender(rand.Reader, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if tamper != nil {
		tamper(1, m1)
	}
	r, m2, err := NewReceiver(rand.Reader, ctx, m1)
	if err != nil {
		return nil, nil, err
	}
	if tamper != nil {
		tamper(2, m2)
	}
	m3, err := s.Round2(m2)
	if err != nil {
		return nil, nil, err
	}
	if tamper != nil {
		tamper(3, m3)
	}
	m4, err := r.Round3(m3)
	if err != nil {
		return nil, nil, err
	}
	if tamper != nil {
		tamper(4, m4)
	}
	m5, err := s.Round4(m4)
	if err != nil {
		return nil, nil, err
	}
	if tamper != nil {
		tamper(5, m5)
	}
	ro, err := r.Round5(m5)
	if err != nil {
		return nil, nil, err
	}
	so, err := s.Output()
	if err != nil {
		return nil, nil, err
	}
	return so, ro, nil
}

func TestCorrectness(t *testing.T) {
	so, ro, err := run(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	ones := 0
	for i := 0; i < Count; i++ {
		want := so.K0[i]
		other := so.K1[i]
		if ro.Bit(i) == 1 {
			want, other = other, want
			ones++
		}
		if ro.K[i] != want || ro.K[i] == other {
			t.Fatalf("OT %d: receiver seed does not match chosen sender seed", i)
		}
	}
	if ones == 0 || ones == Count {
		t.Fatal("choice bits not random")
	}
}

func TestTamperingDetected(t *testing.T) {
	for step, off := range map[int]int{1: 10, 2: 5*97 + 40, 3: 7*32 + 3, 4: 9*32 + 1, 5: 11*64 + 2} {
		_, _, err := run(t, func(s int, m []byte) {
			if s == step {
				m[off] ^= 1
			}
		})
		if err == nil {
			t.Fatalf("tampering at step %d not detected", step)
		}
	}
}

// A cheating sender that corrupts the opening of the 1-branch of OT i makes
// the receiver abort exactly when its choice bit is 1 (the one-bit leak the
// protocol accepts because the material is then discarded).
func TestSelectiveOpenFailureAborts(t *testing.T) {
	_, _, err := run(t, func(s int, m []byte) {
		if s == 5 {
			for i := 0; i < Count; i++ {
				m[i*64+32] ^= 1
			}
		}
	})
	if !errors.Is(err, ErrCheck) {
		t.Fatalf("got %v, want ErrCheck", err)
	}
}

func TestStateMachine(t *testing.T) {
	ctx := transcript.Context{}
	s, m1, _ := NewSender(rand.Reader, ctx)
	if _, err := s.Round4(make([]byte, Msg4Size)); !errors.Is(err, ErrState) {
		t.Fatal("out-of-order call accepted")
	}
	if _, _, err := NewReceiver(rand.Reader, ctx, m1[:10]); !errors.Is(err, ErrLength) {
		t.Fatal("short message accepted")
	}
	other := transcript.Context{Round: 1}
	if _, _, err := NewReceiver(rand.Reader, other, m1); !errors.Is(err, ErrProof) {
		t.Fatal("proof not bound to context")
	}
	_, m2, _ := NewReceiver(rand.Reader, ctx, m1)
	if bytes.Equal(m2[:97], m2[97:194]) {
		t.Fatal("repeated points")
	}
}

// BenchmarkBatch measures one full batch of 256 verified OTs (both sides).
func BenchmarkBatch(b *testing.B) {
	ctx := transcript.Context{Sender: 2, Receiver: 1}
	for b.Loop() {
		s, m1, _ := NewSender(rand.Reader, ctx)
		r, m2, err := NewReceiver(rand.Reader, ctx, m1)
		if err != nil {
			b.Fatal(err)
		}
		m3, _ := s.Round2(m2)
		m4, _ := r.Round3(m3)
		m5, err := s.Round4(m4)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.Round5(m5); err != nil {
			b.Fatal(err)
		}
	}
}
