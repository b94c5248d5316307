package oracle

import (
	"bytes"
	"crypto/rand"
	"errors"
	"regexp"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
)

var allNodes = []byte{1, 2, 3, 4, 5}

// refreshDriver relays a share refresh by hand, one node and step at a
// time, so that tests can withhold, reorder and tamper with messages.
type refreshDriver struct {
	t   *testing.T
	c   *testCluster
	sid [32]byte
	out map[int]map[uint8][][]byte // step → sender → envelopes
}

func newRefreshDriver(t *testing.T, c *testCluster) *refreshDriver {
	d := &refreshDriver{t: t, c: c, out: map[int]map[uint8][][]byte{}}
	rand.Read(d.sid[:])
	return d
}

// inbound is what node to receives in step (the previous step's envelopes
// addressed or broadcast to it).
func (d *refreshDriver) inbound(step int, to uint8) [][]byte {
	var in [][]byte
	for from, envs := range d.out[step-1] {
		if from == to {
			continue
		}
		for _, raw := range envs {
			var e peer.Envelope
			if err := e.Unmarshal(raw); err != nil {
				d.t.Fatal(err)
			}
			if e.Receiver == peer.Broadcast || e.Receiver == to {
				in = append(in, raw)
			}
		}
	}
	return in
}

// send runs step on node id with inbound and records its output.
func (d *refreshDriver) send(step int, id uint8, inbound [][]byte) (*wire.RelayResponse, error) {
	resp, err := d.c.nodes[id-1].Relay(&wire.RelayRequest{Protocol: wire.ProtoRefresh, Session: d.sid, Step: uint8(step), Params: allNodes, Inbound: inbound})
	if err == nil {
		if d.out[step] == nil {
			d.out[step] = map[uint8][][]byte{}
		}
		d.out[step][id] = resp.Outbound
	}
	return resp, err
}

// step runs step on every node in ids with its genuine inbound.
func (d *refreshDriver) step(step int, ids ...uint8) [][]byte {
	d.t.Helper()
	var results [][]byte
	for _, id := range ids {
		resp, err := d.send(step, id, d.inbound(step, id))
		if err != nil {
			d.t.Fatalf("refresh step %d on node %d: %v", step, id, err)
		}
		results = append(results, resp.Result)
	}
	return results
}

var namesCulprit = regexp.MustCompile(`culprit node \d`)

// refusedNamingNoOne fails unless err is a *wire.Error that names no
// culprit.
func refusedNamingNoOne(t *testing.T, err error, what string) {
	t.Helper()
	var we *wire.Error
	if !errors.As(err, &we) {
		t.Fatalf("%s: got %v, want a typed refusal", what, err)
	}
	if namesCulprit.MatchString(we.Message) {
		t.Fatalf("%s: a relay's doing names a culprit: %v", what, we)
	}
}

// TestShareRefresh runs the ECDSA share refresh on a live cluster through
// a hostile relay: messages withheld, duplicated, from another run or of
// another step are refused naming no one and leave the run where it was; a
// second refresh cannot start beside the first; a node whose last step is
// withheld commits when it is delivered. Afterwards every node holds a new
// share of the same key (tokens verify under the unchanged certificate
// key), the old shares and the previous sharing's presignatures are gone,
// and the bans and session ids carry over.
func TestShareRefresh(t *testing.T) {
	c, err := newTestCluster()
	if err != nil {
		t.Fatal(err)
	}
	old := make([]*tecdsa.KeyShare, 5)
	for i, o := range c.nodes {
		old[i], _ = o.th.ecdsaState()
	}
	kept, err := c.presign(signers) // a presignature of the previous sharing
	if err != nil {
		t.Fatal(err)
	}

	d := newRefreshDriver(t, c)
	d.step(1, 1, 2, 3, 4, 5)

	// A second refresh cannot start while this one holds state.
	other := newRefreshDriver(t, c)
	if _, err := other.send(1, 2, nil); err == nil {
		t.Fatal("a second refresh started beside the first")
	} else if we := new(wire.Error); !errors.As(err, &we) || we.Code != wire.CodeBusy {
		t.Fatalf("second refresh: %v, want CodeBusy", err)
	}

	// Relay faults in step 2 are refused, name no one, and keep the run.
	in := d.inbound(2, 1)
	for name, bad := range map[string][][]byte{
		"one message withheld": in[1:],
		"one message twice":    append(in[:len(in):len(in)], in[0]),
		"nothing":              nil,
		"step-1 envelope of another node's receiver": append(in[1:len(in):len(in)], d.out[1][2][len(d.out[1][2])-1]),
	} {
		if _, err := d.send(2, 1, bad); err == nil {
			t.Fatalf("%s: accepted", name)
		} else {
			refusedNamingNoOne(t, err, name)
		}
	}
	// A step out of order is refused.
	if _, err := d.send(3, 1, nil); err == nil {
		t.Fatal("step 3 before step 2 accepted")
	}
	d.step(2, 1, 2, 3, 4, 5)

	// Step 3 reaches nodes 1 to 4; node 5's is withheld for now.
	digests := d.step(3, 1, 2, 3, 4)
	for _, dg := range digests {
		if !bytes.Equal(dg, digests[0]) || len(dg) != 32 {
			t.Fatalf("refresh digests differ: %x", digests)
		}
	}
	if err := c.signTokenBy(wire.PolicyHybrid, []uint8{1, 2, 3}); err != nil {
		t.Fatalf("token after the refresh: %v", err)
	}
	// Node 5 is still on the previous sharing: a presignature with it
	// fails, naming no one and banning no one.
	if _, err := c.presign([]uint8{3, 4, 5}); err == nil {
		t.Fatal("a node that missed the commit presigned with refreshed nodes")
	} else {
		refusedNamingNoOne(t, err, "presigning across sharings")
	}
	// Delivered late, node 5's last step commits.
	if got := d.step(3, 5); !bytes.Equal(got[0], digests[0]) {
		t.Fatal("node 5's refresh digest differs")
	}
	for _, set := range [][]uint8{{3, 4, 5}, {1, 2, 5}, {2, 4, 5}} {
		if err := c.signTokenBy(wire.PolicyHybrid, set); err != nil {
			t.Fatalf("signer set %v after the refresh: %v", set, err)
		}
	}

	// Replays of the finished run are refused, naming no one.
	if _, err := d.send(3, 2, d.inbound(3, 2)); err == nil {
		t.Fatal("a replayed step 3 was accepted")
	} else {
		refusedNamingNoOne(t, err, "replayed step 3")
	}
	if _, err := d.send(1, 2, nil); err == nil {
		// Step 1 of the same session id starts a refresh of the new
		// sharing; its context differs, so the old messages do not fit.
		if _, err := d.send(2, 2, d.inbound(2, 2)); err == nil {
			t.Fatal("messages of the previous run accepted in a new run")
		} else {
			refusedNamingNoOne(t, err, "previous run's messages")
		}
	}

	// Node 2 now holds the refresh run that replayed step 1 started. It
	// blocks another refresh until it is abandoned (RefreshStartMaxAge, as
	// it never finished step 2).
	third := newRefreshDriver(t, c)
	if _, err := third.send(1, 2, nil); err == nil {
		t.Fatal("a refresh started beside an unfinished one")
	}
	c.nodes[1].th.skew.Add(int64(RefreshStartMaxAge + time.Second))
	if _, err := third.send(1, 2, nil); err != nil {
		t.Fatalf("an abandoned refresh still blocks: %v", err)
	}
	if _, err := third.send(1, 3, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := third.send(1, 2, nil); err == nil {
		t.Fatal("step 1 repeated on a refresh in progress was accepted")
	}

	for i, o := range c.nodes {
		if _, err := tecdsa.NewRefresh(tecdsa.RefreshConfig{Share: old[i], Rand: rand.Reader}); !errors.Is(err, tecdsa.ErrState) {
			t.Fatalf("node %d: the previous share still works: %v", i+1, err)
		}
		ns, signer := o.th.ecdsaState()
		if ns == old[i] || ns.SharingDigest() == old[i].SharingDigest() || !ns.Confirmed() {
			t.Fatalf("node %d: share not refreshed", i+1)
		}
		if !bytes.Equal(ns.PublicKeyBytes(), old[i].PublicKeyBytes()) {
			t.Fatalf("node %d: the public key changed", i+1)
		}
		if len(signer.Bans()) != 0 {
			t.Fatalf("node %d: bans after the refresh: %v", i+1, signer.Bans())
		}
	}
	// The presignature made before the refresh is gone.
	for _, o := range c.subset(signers) {
		if _, err := o.th.takePresignature(kept, []int{1, 2, 3}); err == nil {
			t.Fatalf("node %d: a presignature of the previous sharing survived", o.cfg.NodeID)
		}
	}
}

// TestECDSADKGMissingMessageNamesNoOne: a relay that withholds or
// duplicates one node's ECDSA DKG message gets a refusal that names no one
// (the key generation would otherwise blame the sender of the missing
// message), and a step after an aborted key generation (ECDSA or ML-DSA)
// is refused rather than crashing the oracle.
func TestECDSADKGMissingMessageNamesNoOne(t *testing.T) {
	c, err := newPeeredCluster()
	if err != nil {
		t.Fatal(err)
	}
	for _, proto := range []wire.Protocol{wire.ProtoMLDSADKG, wire.ProtoECDSADKG} {
		t.Run(proto.String(), func(t *testing.T) { dkgRelayFaults(t, c, proto) })
	}
}

func dkgRelayFaults(t *testing.T, c *testCluster, proto wire.Protocol) {
	var sid [32]byte
	rand.Read(sid[:])
	out := map[uint8][][]byte{}
	for _, o := range c.nodes {
		resp, err := o.Relay(&wire.RelayRequest{Protocol: proto, Session: sid, Step: 1})
		if err != nil {
			t.Fatal(err)
		}
		out[o.cfg.NodeID] = resp.Outbound
	}
	d := &refreshDriver{t: t, out: map[int]map[uint8][][]byte{1: out}}
	in := d.inbound(2, 1)
	for name, bad := range map[string][][]byte{
		"one message withheld": in[1:],
		"one message twice":    append(in[:len(in):len(in)], in[0]),
	} {
		_, err := c.nodes[0].Relay(&wire.RelayRequest{Protocol: proto, Session: sid, Step: 2, Inbound: bad})
		if err == nil {
			t.Fatalf("%s: accepted", name)
		}
		if proto == wire.ProtoECDSADKG {
			refusedNamingNoOne(t, err, name)
		}
	}
	// The refused step aborted this node's key generation: the genuine
	// messages, delivered now, are refused too (the ceremony restarts).
	if _, err := c.nodes[0].Relay(&wire.RelayRequest{Protocol: proto, Session: sid, Step: 2, Inbound: in}); err == nil {
		t.Fatal("an aborted key generation continued")
	}
}
