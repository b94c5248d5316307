package ote

import (
	"crypto/rand"
	"testing"
)

// FuzzReceive feeds arbitrary receiver messages to the extension sender: it
// must never panic, and a message not derived from the setup must fail.
func FuzzReceive(f *testing.F) {
	ss, rs := dealerSetup(nil)
	var sid [32]byte
	var x [ColBytes]byte
	rand.Read(x[:])
	msg, _, err := Extend(rs, sid, &x)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Add(msg[:17])
	f.Fuzz(func(t *testing.T, b []byte) {
		Receive(ss, sid, b)
	})
}
