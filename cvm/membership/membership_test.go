package membership

import (
	"bytes"
	"errors"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

func identities(t *testing.T, n int) []*peer.Identity {
	t.Helper()
	var out []*peer.Identity
	for range n {
		id, err := peer.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	return out
}

func members(ids []*peer.Identity, chips ...[]byte) []Member {
	out := make([]Member, len(ids))
	for i, id := range ids {
		out[i].Keys = id.Public()
		if i < len(chips) {
			out[i].Chip = chips[i]
		}
	}
	return out
}

func TestClaimRoundTrip(t *testing.T) {
	c := &Claim{Cluster: [32]byte{1, 2}, Epoch: 7, Index: 3, Nodes: 5, Threshold: 3, Keys: []byte("keys")}
	got, err := ParseClaim(c.Marshal())
	if err != nil || got.Cluster != c.Cluster || got.Epoch != 7 || got.Index != 3 || got.Nodes != 5 || got.Threshold != 3 || !bytes.Equal(got.Keys, c.Keys) {
		t.Fatalf("%+v %v", got, err)
	}
	b := c.Marshal()
	for _, bad := range [][]byte{nil, b[:len(b)-1], append(bytes.Clone(b), 0)} {
		if _, err := ParseClaim(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%x: %v", bad, err)
		}
	}
	// Every field is bound: a claim for another index, epoch or cluster
	// encodes differently.
	for _, o := range []*Claim{{Cluster: c.Cluster, Epoch: 7, Index: 2, Nodes: 5, Threshold: 3, Keys: c.Keys},
		{Cluster: c.Cluster, Epoch: 8, Index: 3, Nodes: 5, Threshold: 3, Keys: c.Keys},
		{Epoch: 7, Index: 3, Nodes: 5, Threshold: 3, Keys: c.Keys}} {
		if bytes.Equal(o.Marshal(), b) {
			t.Errorf("%+v encodes like %+v", o, c)
		}
	}
}

func FuzzParseClaim(f *testing.F) {
	f.Add((&Claim{Epoch: 1, Index: 1, Nodes: 5, Threshold: 3, Keys: []byte{1}}).Marshal())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseClaim(b)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Marshal(), b) {
			t.Fatalf("claim does not re-encode to its input")
		}
	})
}

func TestNonceBindsEveryChallenge(t *testing.T) {
	a := []wire.Challenge{{Node: 1, Value: [32]byte{1}}, {Node: 2, Value: [32]byte{2}}}
	b := []wire.Challenge{{Node: 1, Value: [32]byte{1}}, {Node: 3, Value: [32]byte{2}}}
	c := []wire.Challenge{{Node: 1, Value: [32]byte{1}}}
	if Nonce(a) == Nonce(b) || Nonce(a) == Nonce(c) {
		t.Fatal("nonce ignores a challenge or its node")
	}
}

func TestGenesisDistinct(t *testing.T) {
	ids := identities(t, 5)
	var nonce [wire.NonceSize]byte
	m, err := Genesis(5, 3, members(ids), nonce)
	if err != nil {
		t.Fatal(err)
	}
	nonce[0] = 1
	m2, err := Genesis(5, 3, members(ids), nonce)
	if err != nil || m2.Cluster == m.Cluster {
		t.Fatalf("cluster id does not depend on the nonce: %v", err)
	}
	dup := members(ids)
	dup[3] = dup[1]
	if _, err := Genesis(5, 3, dup, nonce); !errors.Is(err, ErrInvalid) {
		t.Fatalf("duplicate identity: %v", err)
	}
	chip := []byte{9, 9}
	if _, err := Genesis(5, 3, members(ids, nil, chip, nil, chip), nonce); !errors.Is(err, ErrInvalid) {
		t.Fatalf("duplicate chip: %v", err)
	}
	zero := make([]byte, 64)
	if _, err := Genesis(5, 3, members(ids, zero, zero, zero), nonce); err != nil {
		t.Fatalf("masked chips are not compared: %v", err)
	}
	if _, err := Genesis(5, 3, members(ids[:4]), nonce); !errors.Is(err, ErrInvalid) {
		t.Fatalf("four members for five nodes: %v", err)
	}
}

func TestChangeAndEndorsements(t *testing.T) {
	ids := identities(t, 6)
	m, err := Genesis(5, 3, members(ids[:5], []byte{1}, []byte{2}, []byte{3}, []byte{4}, []byte{5}), [wire.NonceSize]byte{})
	if err != nil {
		t.Fatal(err)
	}
	ch := &Change{Cluster: m.Cluster, Epoch: m.Epoch, Index: 2, Claim: []byte("claim"), Evidence: []byte("ev"), Chip: []byte{6}}
	next, err := ch.Apply(m, ids[5].Public())
	if err != nil || next.Epoch != 1 || !bytes.Equal(next.Members[1].Keys.Sign, ids[5].Public().Sign) || m.Epoch != 0 {
		t.Fatalf("apply: %v", err)
	}
	if next.Digest() == m.Digest() {
		t.Fatal("the digest ignores the change")
	}
	// The joiner may not take another member's chip or identity.
	if _, err := (&Change{Cluster: m.Cluster, Index: 2, Chip: []byte{4}}).Apply(m, ids[5].Public()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("joiner on member 4's chip: %v", err)
	}
	if _, err := (&Change{Cluster: m.Cluster, Index: 2, Chip: []byte{6}}).Apply(m, ids[3].Public()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("joiner with member 4's identity: %v", err)
	}
	if _, err := (&Change{Cluster: m.Cluster, Epoch: 1, Index: 2}).Apply(m, ids[5].Public()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("change of another epoch: %v", err)
	}
	d := ch.Digest(next)
	endorse := func(i int, used uint64) wire.Endorsement {
		e, err := Endorse(ids[i], uint8(i+1), used, d)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	used, err := CheckEndorsements(m, 2, d, []wire.Endorsement{endorse(0, 5), endorse(2, 9), endorse(4, 1)})
	if err != nil || used != 9 {
		t.Fatalf("three endorsements: %d %v", used, err)
	}
	forgedCount := endorse(0, 5)
	forgedCount.Used = 50
	other := *ch
	other.Index = 3
	for name, es := range map[string][]wire.Endorsement{
		"two":                {endorse(0, 1), endorse(2, 1)},
		"duplicate signer":   {endorse(0, 1), endorse(0, 1), endorse(2, 1)},
		"by the replaced":    {endorse(0, 1), endorse(1, 1), endorse(2, 1)},
		"raised count":       {forgedCount, endorse(2, 1), endorse(4, 1)},
		"under another name": {{Signer: 4, Used: 1, Signature: endorse(0, 1).Signature}, endorse(2, 1), endorse(4, 1)},
	} {
		if _, err := CheckEndorsements(m, 2, d, es); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	otherNext, _ := other.Apply(m, ids[5].Public())
	if _, err := CheckEndorsements(m, 3, other.Digest(otherNext), []wire.Endorsement{endorse(0, 1), endorse(1, 1), endorse(4, 1)}); !errors.Is(err, ErrInvalid) {
		t.Fatalf("endorsements of another change: %v", err)
	}
}
