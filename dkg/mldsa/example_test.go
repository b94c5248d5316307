package mldsa_test

import (
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
)

// Example runs a 3-of-5 signature with all parties in one process. In a
// deployment every party runs on its own machine and only the messages travel
// (MarshalBinary/UnmarshalBinary).
func Example() {
	pk, shares, err := mldsa.GenerateKey(rand.Reader, 3, 5)
	if err != nil {
		panic(err)
	}
	msg, ctx := []byte("TSTInfo signed attributes"), []byte(nil)
	mu, _ := pk.Mu(msg, ctx)
	signers := []int{0, 2, 3}
	for {
		cfg := mldsa.SessionConfig{Signers: signers, Mu: mu}
		rand.Read(cfg.SessionID[:])
		var sessions []*mldsa.Session
		var cmts []*mldsa.Commitment
		for _, id := range signers {
			st, _ := shares[id].Round1(rand.Reader) // may come from a precomputed pool
			s, c, err := shares[id].NewSession(st, cfg)
			if err != nil {
				panic(err)
			}
			sessions, cmts = append(sessions, s), append(cmts, c)
		}
		var revs []*mldsa.Reveal
		for _, s := range sessions {
			r, err := s.Round2(cmts)
			if err != nil {
				panic(err)
			}
			revs = append(revs, r)
		}
		var resps []*mldsa.Response
		for _, s := range sessions {
			r, err := s.Round3(revs)
			if err != nil {
				panic(err)
			}
			resps = append(resps, r)
		}
		sig, err := mldsa.Combine(shares[0].Params(), pk, cfg, cmts, revs, resps)
		if errors.Is(err, mldsa.ErrNoValidSlot) {
			continue // new attempt, fresh round-1 states
		}
		if err != nil {
			panic(err)
		}
		fmt.Println(len(sig), pk.Verify(msg, ctx, sig))
		return
	}
	// Output: 3309 true
}
