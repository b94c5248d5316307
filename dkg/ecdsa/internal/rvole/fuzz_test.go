package rvole

import (
	"crypto/rand"
	"testing"
)

// FuzzFinish feeds arbitrary sender messages to a receiver: it must never
// panic and must reject anything but the honest message.
func FuzzFinish(f *testing.F) {
	fx := newFixture(nil)
	_, m1, _, _ := NewReceiver(rand.Reader, fx.rs, fx.g, fx.ctx)
	_, m2, _ := Send(rand.Reader, fx.ss, fx.g, fx.ctx, fx.a, m1)
	f.Add(m2)
	f.Add(m2[:100])
	f.Fuzz(func(t *testing.T, b []byte) {
		r, _, _, err := NewReceiver(rand.Reader, fx.rs, fx.g, fx.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Finish(b); err == nil {
			t.Fatal("message not produced for this receiver was accepted")
		}
	})
}

// FuzzSend feeds arbitrary receiver messages to a sender.
func FuzzSend(f *testing.F) {
	fx := newFixture(nil)
	_, m1, _, _ := NewReceiver(rand.Reader, fx.rs, fx.g, fx.ctx)
	f.Add(m1)
	f.Add(m1[:64])
	f.Fuzz(func(t *testing.T, b []byte) {
		Send(rand.Reader, fx.ss, fx.g, fx.ctx, fx.a, b)
	})
}
