package ecdsa

import (
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/rvole"
)

// TestSignerSetMismatchAbortsWithoutBan: parties 1 and 2 given different
// signer sets under one session id. Party 2's honest RVOLE message would
// fail party 1's OT-extension check; its binding differs, so party 1
// aborts naming no culprit and bans no one.
func TestSignerSetMismatchAbortsWithoutBan(t *testing.T) {
	ks := testShares(t)
	ss := newSigners(t, ks, SignerConfig{})
	sid := randomSID()
	a, b := []int{1, 2, 3}, []int{1, 2, 4}
	p1, err := ss[1].NewPresign(sid, a)
	if err != nil {
		t.Fatal(err)
	}
	p2, _ := ss[2].NewPresign(sid, b)
	p3, _ := ss[3].NewPresign(sid, a)
	if _, err := p1.Round1(); err != nil {
		t.Fatal(err)
	}
	m2, _ := p2.Round1()
	m3, _ := p3.Round1()
	var in []*PresignRound1
	for _, m := range append(m2, m3...) {
		if m.To == 1 {
			in = append(in, roundtrip(t, m, new(PresignRound1)))
		}
	}
	_, err = p1.Round2(in)
	var ae *AbortError
	if !errors.As(err, &ae) || !errors.Is(err, ErrContext) || ae.Culprit != 0 || ae.Ban {
		t.Fatalf("got %v, want an abort with no culprit and no ban", err)
	}
	if ss[1].Banned(2) || len(ss[1].Bans()) != 0 {
		t.Fatalf("party 1 bans %v", ss[1].Bans())
	}
}

// TestPairMismatchNoBanAndBanLifted: a pair setup installed on one side
// only makes presigning abort without blame or ban; a real cheat (a
// tampered, binding-correct RVOLE message) bans, the ban is listed, and a
// fresh pair setup lifts it, at most MaxBanLifts times.
func TestPairMismatchNoBanAndBanLifted(t *testing.T) {
	ks, err := runDKG(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	set := []int{1, 2, 3}
	ss := newSigners(t, ks, SignerConfig{MaxBanLifts: 1})
	r1, r2, err := runPairSetup(t, ks[1].KeyID(), 1, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r1.ID() != r2.ID() {
		t.Fatal("the two sides of a pair setup compute different pair ids")
	}
	if err := ks[2].InstallPair(r2); err != nil { // party 1 never installs
		t.Fatal(err)
	}
	_, err = runPresign(t, ss, set, randomSID(), nil)
	var ae *AbortError
	if !errors.As(err, &ae) || !errors.Is(err, ErrContext) || ae.Culprit != 0 || ae.Ban {
		t.Fatalf("got %v, want an abort with no culprit and no ban", err)
	}
	for i := 1; i <= 3; i++ {
		if len(ss[i].Bans()) != 0 {
			t.Fatalf("party %d bans %v", i, ss[i].Bans())
		}
	}
	install := func() {
		t.Helper()
		r1, r2, err := runPairSetup(t, ks[1].KeyID(), 1, 2)
		if err != nil {
			t.Fatal(err)
		}
		if ks[1].InstallPair(r1) != nil || ks[2].InstallPair(r2) != nil {
			t.Fatal("install")
		}
	}
	install()
	if _, err := runPresign(t, ss, set, randomSID(), nil); err != nil {
		t.Fatalf("after the rerun: %v", err)
	}
	cheat := func(r int, m any) {
		if x, ok := m.(*PresignRound2); ok && x.From == 2 && x.To == 1 {
			x.RVOLE[rvole.Msg2Size-1] ^= 1
		}
	}
	for lift := 0; lift <= 1; lift++ {
		_, err = runPresign(t, ss, set, randomSID(), cheat)
		if !errors.As(err, &ae) || !ae.Ban || ae.Culprit != 2 {
			t.Fatalf("got %v, want party 2 banned", err)
		}
		bans := ss[1].Bans()
		id, _ := ks[1].PairID(2)
		if len(bans) != 1 || bans[0].Party != 2 || bans[0].PairID != id || bans[0].Reason == "" {
			t.Fatalf("bans %+v", bans)
		}
		if _, err := ss[1].NewPresign(randomSID(), set); !errors.Is(err, ErrBanned) {
			t.Fatalf("banned party accepted: %v", err)
		}
		install()
		if ss[1].Banned(2) != (lift == 1) {
			t.Fatalf("after lift %d: banned %v", lift, ss[1].Banned(2))
		}
	}
}

// TestSeenSessionsPruned: session ids are refused for reuse while they can
// be live, bounded by MaxSessions (ErrBusy), and forgotten after
// SessionMaxAge + MaxAge; a session older than SessionMaxAge expires.
func TestSeenSessionsPruned(t *testing.T) {
	ks := testShares(t)
	now := time.Unix(1_000_000, 0)
	clock := func() time.Time { return now }
	s, err := NewSigner(ks[1], SignerConfig{Rand: rand.Reader, MaxSessions: 2, SessionMaxAge: time.Minute, MaxAge: 10 * time.Minute, Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	set := []int{1, 2, 3}
	a, b, c := randomSID(), randomSID(), randomSID()
	pa, err := s.NewPresign(a, set)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewPresign(b, set); err != nil {
		t.Fatal(err)
	}
	if _, err := s.NewPresign(a, set); !errors.Is(err, ErrSessionReused) {
		t.Fatalf("reuse: %v", err)
	}
	if _, err := s.NewPresign(c, set); !errors.Is(err, ErrBusy) {
		t.Fatalf("beyond MaxSessions: %v", err)
	}
	now = now.Add(time.Minute + time.Second)
	if _, err := pa.Round1(); !errors.Is(err, ErrExpired) {
		t.Fatalf("expired session: %v", err)
	}
	if _, err := s.NewPresign(a, set); !errors.Is(err, ErrSessionReused) {
		t.Fatalf("reuse while a presignature could live: %v", err)
	}
	now = now.Add(10 * time.Minute)
	if n := s.Sessions(); n != 0 {
		t.Fatalf("%d session ids remembered after expiry", n)
	}
	if _, err := s.NewPresign(c, set); err != nil {
		t.Fatal(err)
	}
}
