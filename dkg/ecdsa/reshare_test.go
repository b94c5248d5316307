package ecdsa

import (
	"bytes"
	stdecdsa "crypto/ecdsa"
	"crypto/rand"
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
)

func runPairSetup(t *testing.T, kid [32]byte, a, b int) (*PairResult, *PairResult, error) {
	t.Helper()
	sid := randomSID()
	pa, err := NewPairSetup(PairConfig{Self: a, Peer: b, KeyID: kid, SessionID: sid, Rand: rand.Reader})
	if err != nil {
		t.Fatal(err)
	}
	pb, _ := NewPairSetup(PairConfig{Self: b, Peer: a, KeyID: kid, SessionID: sid, Rand: rand.Reader})
	ma, err := pa.Start()
	if err != nil {
		return nil, nil, err
	}
	mb, err := pb.Start()
	if err != nil {
		return nil, nil, err
	}
	for r := 1; r <= 4; r++ {
		ina := roundtrip(t, mb, new(PairMessage))
		inb := roundtrip(t, ma, new(PairMessage))
		if ma, err = pa.Next(ina); err != nil {
			return nil, nil, err
		}
		if mb, err = pb.Next(inb); err != nil {
			return nil, nil, err
		}
	}
	ra, err := pa.Finish(roundtrip(t, mb, new(PairMessage)))
	if err != nil {
		return nil, nil, err
	}
	rb, err := pb.Finish(roundtrip(t, ma, new(PairMessage)))
	return ra, rb, err
}

func TestReshareReplacementNode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs its own DKG")
	}
	ks, err := runDKG(t, nil)
	if err != nil {
		t.Fatal(err)
	}
	const target = 5
	helpers := []int{1, 2, 4}
	sid := randomSID()
	var contribs []*ReshareContribution
	for _, h := range helpers {
		c, err := ks[h].ReshareContribution(sid, target, helpers)
		if err != nil {
			t.Fatal(err)
		}
		contribs = append(contribs, roundtrip(t, c, new(ReshareContribution)))
	}
	// Malicious helper cases first.
	bad := *contribs[1]
	bad.C[47] ^= 1
	_, err = NewReplacementShare(target, []*ReshareContribution{contribs[0], &bad, contribs[2]})
	var ae *AbortError
	if !errors.As(err, &ae) || ae.Culprit != 2 {
		t.Fatalf("tampered contribution: %v", err)
	}
	// Shift c and Z consistently: passes the per-helper check, caught by ΣZ = 0.
	shift := *contribs[1]
	delta, _ := p384.NewScalar().RandomNonZero(rand.Reader)
	c, _ := p384.NewScalar().SetBytes(shift.C[:])
	c.Add(c, delta).PutBytes(shift.C[:])
	Z, _ := p384.ParsePoint(shift.Z[:])
	copy(shift.Z[:], p384.Add(Z, p384.BaseMul(delta)).Bytes())
	if _, err := NewReplacementShare(target, []*ReshareContribution{contribs[0], &shift, contribs[2]}); !errors.As(err, &ae) {
		t.Fatalf("consistent shift: %v", err)
	}
	lying := *contribs[2]
	lying.PK = randomPoint()
	if _, err := NewReplacementShare(target, []*ReshareContribution{contribs[0], contribs[1], &lying}); err == nil {
		t.Fatal("inconsistent public data accepted")
	}
	if _, err := NewReplacementShare(target, contribs[:2]); err == nil {
		t.Fatal("two contributions accepted")
	}

	fresh, err := NewReplacementShare(target, contribs)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.x.Equal(ks[target].x) != 1 || !bytes.Equal(fresh.PublicKeyBytes(), ks[1].PublicKeyBytes()) || fresh.KeyID() != ks[1].KeyID() {
		t.Fatal("replacement share differs from the share at that index")
	}
	ks[target].Zeroize() // the old node is gone
	ks[target] = fresh
	for j := 1; j <= Parties; j++ {
		if j == target {
			continue
		}
		rt, rj, err := runPairSetup(t, fresh.KeyID(), target, j)
		if err != nil {
			t.Fatalf("pair %d-%d: %v", target, j, err)
		}
		if err := fresh.InstallPair(rt); err != nil {
			t.Fatal(err)
		}
		if err := ks[j].InstallPair(rj); err != nil {
			t.Fatal(err)
		}
	}
	if err := confirm(t, ks); err != nil {
		t.Fatalf("confirmation after replacement: %v", err)
	}
	if !fresh.Confirmed() {
		t.Fatal("replacement share not confirmed")
	}
	ss := newSigners(t, ks, SignerConfig{})
	for _, set := range [][]int{{1, 2, 5}, {3, 4, 5}} {
		d := sha384([]byte("after replacement"))
		ps, err := runPresign(t, ss, set, randomSID(), nil)
		if err != nil {
			t.Fatalf("%v: %v", set, err)
		}
		sig, err := Combine(ks[1].PublicKey(), d, signAll(t, ps, set, d))
		if err != nil || !stdecdsa.VerifyASN1(ks[1].PublicKey(), d, sig) {
			t.Fatalf("%v: %v", set, err)
		}
	}
}

func TestPairSetupTamperDetected(t *testing.T) {
	if testing.Short() {
		t.Skip("base OTs are slow")
	}
	var kid [32]byte
	sid := randomSID()
	pa, _ := NewPairSetup(PairConfig{Self: 1, Peer: 2, KeyID: kid, SessionID: sid, Rand: rand.Reader})
	pb, _ := NewPairSetup(PairConfig{Self: 2, Peer: 1, KeyID: kid, SessionID: sid, Rand: rand.Reader})
	ma1, _ := pa.Start()
	mb1, _ := pb.Start()
	if _, err := pa.Next(mb1); err != nil {
		t.Fatal(err)
	}
	mb, err := pb.Next(ma1)
	if err != nil {
		t.Fatal(err)
	}
	// Party 2 opens a different zero-seed contribution than it committed to.
	mb2 := *mb
	mb2.Seed[0] ^= 1
	_, err = pa.Next(&mb2)
	var ae *AbortError
	if !errors.As(err, &ae) || ae.Culprit != 2 {
		t.Fatalf("got %v", err)
	}
	if _, err := pa.Next(mb); !errors.Is(err, ErrState) {
		t.Fatal("state machine usable after failure")
	}
}
