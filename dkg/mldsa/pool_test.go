package mldsa

import (
	"crypto/rand"
	"errors"
	"testing"
)

func TestPool(t *testing.T) {
	pk, shares, err := GenerateKey(rand.Reader, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	pools := []*Pool{NewPool(shares[0], 3), NewPool(shares[2], 3)}
	for _, p := range pools {
		if n, err := p.Fill(nil, 10); err != nil || n != 3 || p.Len() != 3 {
			t.Fatalf("Fill added %d (len %d): %v", n, p.Len(), err)
		}
		if n, _ := p.Fill(nil, 1); n != 0 {
			t.Fatal("Fill exceeded the bound")
		}
	}
	// Sign with pooled states; every state is used once.
	msg := []byte("pooled")
	mu, _ := pk.Mu(msg, nil)
	signers := []int{0, 2}
	for attempt := 0; ; attempt++ {
		cfg := SessionConfig{Signers: signers, Mu: mu}
		rand.Read(cfg.SessionID[:])
		var sess []*Session
		var cmts []*Commitment
		for i, id := range signers {
			st, err := pools[i].Take()
			if errors.Is(err, ErrPoolEmpty) {
				if _, err := pools[i].Fill(nil, 1); err != nil {
					t.Fatal(err)
				}
				st, err = pools[i].Take()
			}
			if err != nil {
				t.Fatal(err)
			}
			s, c, err := shares[id].NewSession(st, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sess, cmts = append(sess, s), append(cmts, c)
		}
		var revs []*Reveal
		for _, s := range sess {
			r, err := s.Round2(cmts)
			if err != nil {
				t.Fatal(err)
			}
			revs = append(revs, r)
		}
		var resps []*Response
		for _, s := range sess {
			r, err := s.Round3(revs)
			if err != nil {
				t.Fatal(err)
			}
			resps = append(resps, r)
		}
		sig, err := Combine(shares[0].Params(), pk, cfg, cmts, revs, resps)
		if errors.Is(err, ErrNoValidSlot) && attempt < 40 {
			continue
		}
		if err != nil || !pk.Verify(msg, nil, sig) {
			t.Fatalf("pooled signature: %v", err)
		}
		break
	}
	p := pools[0]
	p.Drain()
	if p.Len() != 0 {
		t.Fatal("Drain left states")
	}
	if _, err := p.Take(); !errors.Is(err, ErrPoolEmpty) {
		t.Fatalf("Take on an empty pool: %v", err)
	}
}
