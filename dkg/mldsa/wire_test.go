package mldsa

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"
)

// TestWireRoundTrip runs a session entirely over the wire encodings and
// checks strict decoding of every message type.
func TestWireRoundTrip(t *testing.T) {
	pk, shares, err := GenerateKey(rand.Reader, 3, 5)
	if err != nil {
		t.Fatal(err)
	}
	// Shares survive encoding and still sign.
	dec := make([]*KeyShare, len(shares))
	for i, ks := range shares {
		b, err := ks.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if dec[i], err = ParseKeyShare(b); err != nil {
			t.Fatal(err)
		}
		b2, _ := dec[i].MarshalBinary()
		if !bytes.Equal(b, b2) || !dec[i].PublicKey().Equal(pk) || dec[i].ID() != i {
			t.Fatal("key share round trip")
		}
		if _, err := ParseKeyShare(append(b, 0)); !errors.Is(err, ErrMalformed) {
			t.Fatal("key share with trailing byte accepted")
		}
		bad := append([]byte(nil), b...)
		bad[len(bad)-1] = 0xff // nibble 15 > 2η
		if _, err := ParseKeyShare(bad); !errors.Is(err, ErrMalformed) {
			t.Fatal("key share with out-of-range coefficient accepted")
		}
		if s := fmt.Sprintf("%v %+v %#v %s", ks, ks, ks, ks); bytes.Contains([]byte(s), []byte("s1")) || len(s) > 400 {
			t.Fatalf("formatting a share prints too much: %q", s)
		}
	}
	msg := []byte("over the wire")
	mu, _ := pk.Mu(msg, nil)
	signers := []int{0, 3, 4}
	for attempt := 0; attempt < 40; attempt++ {
		cfg := SessionConfig{Signers: signers, Mu: mu}
		rand.Read(cfg.SessionID[:])
		var sess []*Session
		var cmtWire, revWire, respWire [][]byte
		for _, id := range signers {
			st, err := dec[id].Round1(nil)
			if err != nil {
				t.Fatal(err)
			}
			s, c, err := dec[id].NewSession(st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sess = append(sess, s)
			b, err := c.MarshalBinary()
			if err != nil || len(b) != 67 {
				t.Fatalf("commitment encoding: %d bytes, %v", len(b), err)
			}
			cmtWire = append(cmtWire, b)
		}
		cmts := make([]*Commitment, len(cmtWire))
		for i, b := range cmtWire {
			cmts[i] = new(Commitment)
			if err := cmts[i].UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range sess {
			r, err := s.Round2(cmts)
			if err != nil {
				t.Fatal(err)
			}
			b, err := r.MarshalBinary()
			if err != nil || len(b) != 5+62*4416 {
				t.Fatalf("reveal encoding: %d bytes, %v", len(b), err)
			}
			revWire = append(revWire, b)
		}
		revs := make([]*Reveal, len(revWire))
		for i, b := range revWire {
			revs[i] = new(Reveal)
			if err := revs[i].UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
		}
		for _, s := range sess {
			r, err := s.Round3(revs)
			if err != nil {
				t.Fatal(err)
			}
			b, err := r.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			respWire = append(respWire, b)
		}
		resps := make([]*Response, len(respWire))
		for i, b := range respWire {
			resps[i] = new(Response)
			if err := resps[i].UnmarshalBinary(b); err != nil {
				t.Fatal(err)
			}
			b2, _ := resps[i].MarshalBinary()
			if !bytes.Equal(b, b2) {
				t.Fatal("response round trip")
			}
		}
		sig, err := Combine(dec[0].Params(), pk, cfg, cmts, revs, resps)
		if errors.Is(err, ErrNoValidSlot) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if !pk.Verify(msg, nil, sig) {
			t.Fatal("signature does not verify")
		}
		// Strictness: every decoder rejects trailing and missing bytes.
		var c Commitment
		var r Reveal
		for _, f := range []struct {
			name string
			b    []byte
			dec  func([]byte) error
		}{
			{"commitment", cmtWire[0], c.UnmarshalBinary},
			{"reveal", revWire[0], r.UnmarshalBinary},
			{"response", respWire[0], new(Response).UnmarshalBinary},
		} {
			if err := f.dec(append(append([]byte(nil), f.b...), 0)); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s with trailing byte: %v", f.name, err)
			}
			if err := f.dec(f.b[:len(f.b)-1]); !errors.Is(err, ErrMalformed) {
				t.Fatalf("truncated %s: %v", f.name, err)
			}
			bad := append([]byte(nil), f.b...)
			bad[1] ^= 0x07
			if err := f.dec(bad); !errors.Is(err, ErrMalformed) {
				t.Fatalf("%s with wrong type: %v", f.name, err)
			}
		}
		// A reveal coefficient ≥ q is rejected: set the first 23 bits to all ones.
		bad := append([]byte(nil), revWire[0]...)
		bad[5], bad[6], bad[7] = 0xff, 0xff, bad[7]|0x7f
		if err := r.UnmarshalBinary(bad); !errors.Is(err, ErrMalformed) {
			t.Fatalf("reveal with coefficient ≥ q: %v", err)
		}
		return
	}
	t.Fatal("no signature in 40 attempts")
}
