package baseot

import (
	"crypto/rand"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// FuzzReceiverMsg1 decodes arbitrary first messages (point and proof).
func FuzzReceiverMsg1(f *testing.F) {
	ctx := transcript.Context{Sender: 1, Receiver: 2}
	_, m1, _ := NewSender(rand.Reader, ctx)
	f.Add(m1)
	f.Add(m1[:97])
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) != Msg1Size {
			if _, _, err := NewReceiver(rand.Reader, ctx, b); err == nil {
				t.Fatal("wrong length accepted")
			}
			return
		}
		// Valid-length inputs run the full receiver (256 scalar
		// multiplications) only when the proof verifies.
		NewReceiver(rand.Reader, ctx, b)
	})
}

// FuzzSenderRound4 feeds arbitrary responses to the sender's check.
func FuzzSenderRound4(f *testing.F) {
	f.Add(make([]byte, Msg4Size))
	f.Add([]byte{1, 2, 3})
	ctx := transcript.Context{}
	s, m1, _ := NewSender(rand.Reader, ctx)
	r, m2, _ := NewReceiver(rand.Reader, ctx, m1)
	m3, _ := s.Round2(m2)
	m4, _ := r.Round3(m3)
	f.Add(m4)
	f.Fuzz(func(t *testing.T, b []byte) {
		c := *s
		c.out = new(SenderOutput)
		*c.out = *s.out
		c.step = 2
		_, err := c.Round4(b)
		if err == nil && string(b) != string(m4) {
			t.Fatal("forged response accepted")
		}
	})
}
