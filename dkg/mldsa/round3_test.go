package mldsa

import (
	"testing"
)

// TestRound3RevealChecks checks that Round3, which hashes the reveals slot
// by slot, still rejects a reveal altered anywhere (first byte, last byte of
// the last slot), names the first culprit in signer order when several are
// altered, hashes this party's own reveal when it comes back altered, and
// answers normally with the unaltered reveals.
func TestRound3RevealChecks(t *testing.T) {
	f := newFixture(t)
	signers := []int{0, 2, 4}
	tamper := func(r *Reveal, i int) *Reveal {
		bad := *r
		bad.w = append([]byte(nil), r.w...)
		bad.w[i] ^= 0x40
		return &bad
	}
	cases := []struct {
		name    string
		mod     func(revs []*Reveal) []*Reveal
		culprit int
	}{
		{"first byte", func(revs []*Reveal) []*Reveal {
			return []*Reveal{revs[0], tamper(revs[1], 0), revs[2]}
		}, 2},
		{"last byte", func(revs []*Reveal) []*Reveal {
			return []*Reveal{revs[0], revs[1], tamper(revs[2], len(revs[2].w)-1)}
		}, 4},
		{"two altered, reversed order", func(revs []*Reveal) []*Reveal {
			return []*Reveal{tamper(revs[2], 5000), tamper(revs[1], 9000), revs[0]}
		}, 2},
		{"own reveal altered", func(revs []*Reveal) []*Reveal {
			return []*Reveal{tamper(revs[0], 77), revs[1], revs[2]}
		}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := f.start(t, signers)
			r.round2(t)
			_, err := r.sess[0].Round3(tc.mod(r.revs))
			wantAbort(t, err, tc.culprit)
			// The other signers, given the right reveals, still answer.
			for _, s := range r.sess[1:] {
				resp, err := s.Round3(r.revs)
				if err != nil || resp.Slots != f.shares[0].Params().K {
					t.Fatalf("honest Round3 failed: %v", err)
				}
			}
		})
	}
}
