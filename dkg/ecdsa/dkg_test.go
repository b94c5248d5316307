package ecdsa

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
)

func TestDKGConsistent(t *testing.T) {
	ks := testShares(t)
	pk := ks[1].PublicKeyBytes()
	for i := 1; i <= Parties; i++ {
		if !bytes.Equal(ks[i].PublicKeyBytes(), pk) || ks[i].KeyID() != ks[1].KeyID() {
			t.Fatalf("party %d disagrees on the key", i)
		}
		for j := 1; j <= Parties; j++ {
			if !bytes.Equal(ks[i].PublicShare(j), ks[1].PublicShare(j)) {
				t.Fatalf("party %d disagrees on X_%d", i, j)
			}
			if i == j {
				continue
			}
			if ks[i].pair(j).zero != ks[j].pair(i).zero {
				t.Fatalf("zero seed %d-%d differs", i, j)
			}
			// Base OT between i (extension sender) and j.
			s, r := ks[i].pair(j).send, ks[j].pair(i).recv
			for k := 0; k < 256; k++ {
				want := r.K0[k]
				if s.Bit(k) == 1 {
					want = r.K1[k]
				}
				if s.K[k] != want {
					t.Fatalf("pair %d→%d OT %d inconsistent", i, j, k)
				}
			}
		}
		if !bytes.Equal(p384.BaseMul(ks[i].x).Bytes(), ks[i].PublicShare(i)) {
			t.Fatalf("party %d share does not match X_%d", i, i)
		}
	}
}

func TestDKGMaliciousAborts(t *testing.T) {
	if testing.Short() {
		t.Skip("each case runs a full DKG")
	}
	cases := []struct {
		name  string
		hook  dkgHook
		blame int
	}{
		{"bad share", func(round int, m any) {
			if d, ok := m.(*DKGRound2Direct); ok && d.From == 2 && d.To == 3 {
				d.Share[47] ^= 1
			}
		}, 2},
		{"bad commitment opening", func(round int, m any) {
			if b, ok := m.(*DKGRound1Broadcast); ok && b.From == 2 {
				b.Commit[0] ^= 1
			}
		}, 2},
		{"bad base OT", func(round int, m any) {
			if d, ok := m.(*DKGOTDirect); ok && d.From == 2 && d.Round == 4 {
				d.OT[5] ^= 1
			}
		}, 2},
		{"bad zero seed", func(round int, m any) {
			if d, ok := m.(*DKGRound2Direct); ok && d.From == 2 {
				d.Seed[0] ^= 1
			}
		}, 2},
		{"bad echo", func(round int, m any) {
			if b, ok := m.(*DKGRound3Broadcast); ok && b.From == 2 {
				b.Echo[3] ^= 1
			}
		}, 2},
	}
	var accused *DKGRound2Broadcast
	var honest *DKGRound2Direct
	capture := func(round int, m any) {
		if b, ok := m.(*DKGRound2Broadcast); ok && b.From == 2 {
			accused = b
		}
		if d, ok := m.(*DKGRound2Direct); ok && d.From == 2 && d.To == 4 {
			honest = d
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := runDKG(t, func(r int, m any) { capture(r, m); c.hook(r, m) })
			var ae *AbortError
			if !errors.As(err, &ae) {
				t.Fatalf("got %v, want AbortError", err)
			}
			if ae.Culprit != c.blame {
				t.Fatalf("blamed %d, want %d (%v)", ae.Culprit, c.blame, ae)
			}
			if c.name == "bad share" {
				if ae.Complaint == nil {
					t.Fatal("no complaint evidence")
				}
				if f, err := VerifyComplaint(ae.Complaint, accused); err != nil || f != 2 {
					t.Fatalf("complaint judged against %d (%v), want 2", f, err)
				}
				// A false complaint (party 4 accusing 2 over the genuine share
				// 2 sent it) is judged against the accuser.
				false4 := &Complaint{Accuser: 4, Accused: 2, Share: honest}
				if f, err := VerifyComplaint(false4, accused); err != nil || f != 4 {
					t.Fatalf("false complaint judged against %d (%v), want 4", f, err)
				}
			}
		})
	}
}
