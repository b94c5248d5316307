//go:build ccfault

package hostile

import (
	"context"
	"crypto/rand"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
)

// blamesOnly fails unless err, if it names a culprit, names one of evil.
func blamesOnly(t *testing.T, what string, err error, evil ...string) {
	t.Helper()
	if err == nil {
		return
	}
	if m := culpritRE.FindStringSubmatch(err.Error()); m != nil && !slices.Contains(evil, m[1]) {
		t.Errorf("%s: an honest node is named: %v", what, err)
	}
}

// bansOnly fails unless every honest oracle bans only malicious ones.
func bansOnly(t *testing.T, cl []*oracleclient.Client, honest []uint8, evil ...uint8) {
	t.Helper()
	for _, id := range honest {
		for _, b := range status(t, cl[id-1]).Banned {
			if !slices.Contains(evil, b) {
				t.Errorf("honest node %d bans honest node %d", id, b)
			}
		}
	}
}

// TestCollusion: nodes 4 and 5 are malicious (they sign what they like with
// their own identity keys, endorse anything and run skewed clocks) and
// work with the hostile coordinator. They try to get an honest node banned
// or named, to get a share of an honest index sent to them, to admit an
// identity of their choosing with their two endorsements, and to get a
// token whose interval misses an honest signer's clock. Every attempt
// fails; the cluster still signs.
func TestCollusion(t *testing.T) {
	c := testtsa.StartClusterWith(t, testtsa.ClusterConfig{Nodes: 5, Threshold: 3, Attested: true})
	cl := clients(c)
	ctx := context.Background()
	g := newGen(t, c)
	honest := []uint8{1, 2, 3}
	e4, e5 := c.Oracles[3], c.Oracles[4]

	t.Run("blame and bans in presigning", func(t *testing.T) {
		g.t = t
		set := []uint8{1, 2, 4}
		params := []byte{1, 2, 4, 1}
		r := g.newRelay(wire.ProtoECDSAPresign, set, params)
		r.advance(1)
		pctx, err := e4.FaultRelayContext(wire.ProtoECDSAPresign, r.sid, params, set)
		if err != nil {
			t.Fatal(err)
		}
		// Node 4 sends node 1 a malformed batch, signed by itself, in the
		// right context; node 5 signs one for node 1 as a non-member; a
		// copy of node 5's envelope claims node 2 as sender.
		bad4, err := e4.FaultSeal(wire.EnvECDSAPresign, g.keyID, pctx, 1, 1, []byte{1, 0xff}, true)
		if err != nil {
			t.Fatal(err)
		}
		bad5, err := e5.FaultSeal(wire.EnvECDSAPresign, g.keyID, pctx, 1, 1, []byte{1, 0xff}, true)
		if err != nil {
			t.Fatal(err)
		}
		as2 := forgeSender(t, bad5, 2)
		honestIn := r.inboundFor(1, 1)
		var from2 []byte
		for _, raw := range honestIn {
			var e peer.Envelope
			if e.Unmarshal(raw) == nil && e.Sender == 2 {
				from2 = raw
			}
		}
		for _, c := range []struct {
			name    string
			in      [][]byte
			culprit string
		}{
			{"node 4's malformed batch", [][]byte{from2, bad4}, "4"},
			{"node 5 as an outsider", [][]byte{from2, bad5}, ""},
			{"node 5's envelope claiming node 2", [][]byte{as2, bad4}, ""},
		} {
			_, err := cl[0].Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoECDSAPresign, Session: r.sid, Step: 2, Params: params, Inbound: c.in})
			if err == nil {
				t.Fatalf("%s: accepted", c.name)
			}
			blamesOnly(t, c.name, err, "4", "5")
			if c.culprit != "" {
				if m := culpritRE.FindStringSubmatch(err.Error()); m == nil || m[1] != c.culprit {
					t.Errorf("%s: %v, want culprit node %s", c.name, err, c.culprit)
				}
			}
			// A failed step ends node 1's run: start the next one afresh.
			r = g.newRelay(wire.ProtoECDSAPresign, set, params)
			r.advance(1)
			if pctx, err = e4.FaultRelayContext(wire.ProtoECDSAPresign, r.sid, params, set); err != nil {
				t.Fatal(err)
			}
			bad4, _ = e4.FaultSeal(wire.EnvECDSAPresign, g.keyID, pctx, 1, 1, []byte{1, 0xff}, true)
			bad5, _ = e5.FaultSeal(wire.EnvECDSAPresign, g.keyID, pctx, 1, 1, []byte{1, 0xff}, true)
			as2 = forgeSender(t, bad5, 2)
			for _, raw := range r.inboundFor(1, 1) {
				var e peer.Envelope
				if e.Unmarshal(raw) == nil && e.Sender == 2 {
					from2 = raw
				}
			}
		}
		r.abandon(3)
		bansOnly(t, cl, honest, 4, 5)
	})

	t.Run("equivocating commitment", func(t *testing.T) {
		g.t = t
		// Node 4 gives node 2 a second commitment of its own for the same
		// session (its commitment of another session, re-signed): whoever
		// an honest node names, it is node 4.
		set := []uint8{1, 2, 4}
		s, other := g.newSign(set, false), g.newSign(set, false)
		s.start()
		other.start()
		h := peer.Header{Kind: wire.EnvMLDSASign, KeyID: g.keyID, Session: wire.EnvelopeSession(other.sid), Round: 1, Sender: 4, Receiver: peer.Broadcast}
		p, err := peer.Decode(other.envs[1][2], h)
		if err != nil {
			t.Fatal(err)
		}
		alt, err := e4.FaultSeal(wire.EnvMLDSASign, g.keyID, wire.EnvelopeSession(s.sid), 1, peer.Broadcast, p, false)
		if err != nil {
			t.Fatal(err)
		}
		r1 := s.request(2, 1)
		r2 := s.request(2, 2)
		r2.Inbound[2].Payload = alt
		rev1, err1 := cl[0].Round(ctx, r1)
		rev2, err2 := cl[1].Round(ctx, r2)
		blamesOnly(t, "round 2 at node 1", err1, "4")
		blamesOnly(t, "round 2 at node 2", err2, "4")
		t.Logf("round 2: node 1 %v, node 2 (equivocated to) %v", err1, err2)
		if err1 != nil || err2 != nil {
			return
		}
		rev4, err := cl[3].Round(ctx, s.request(2, 4))
		if err != nil {
			t.Fatal(err)
		}
		s.envs[2] = [][]byte{rev1.Payload, rev2.Payload, rev4.Payload}
		for _, id := range []uint8{1, 2} {
			_, err := cl[id-1].Round(ctx, s.request(3, id))
			t.Logf("round 3 at node %d: %v", id, err)
			blamesOnly(t, "round 3", err, "4")
		}
		bansOnly(t, cl, honest, 4, 5)
	})

	t.Run("shares of an honest index", func(t *testing.T) {
		g.t = t
		// Re-share step 1 for the colluders' own indices, or an honest
		// one, from honest helpers: no index joined in this epoch.
		for _, target := range []uint8{4, 5, 2} {
			helpers := []uint8{1, 2, 3}
			if target == 2 {
				helpers = []uint8{1, 3, 4}
			}
			var sid [32]byte
			rand.Read(sid[:])
			for _, h := range helpers {
				if h >= 4 {
					continue
				}
				resp, err := cl[h-1].Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoReshare, Session: sid, Step: 1, Params: append([]byte{target}, helpers...)})
				if err == nil {
					t.Fatalf("helper %d re-shared index %d (%d envelopes)", h, target, len(resp.Outbound))
				}
				if we := refused(t, err, wire.CodeRefused); !strings.Contains(we.Message, "did not join") {
					t.Fatalf("helper %d: %v", h, we)
				}
			}
		}
	})

	t.Run("two endorsements admit no one", func(t *testing.T) {
		g.t = t
		st := status(t, cl[0])
		byID := map[uint8]*oracleclient.Client{1: cl[0], 3: cl[2], 4: cl[3], 5: cl[4]}
		chs := challenges(t, byID)
		nonce := membership.Nonce(chs)
		id, err := peer.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		claim := &membership.Claim{Cluster: st.Cluster, Epoch: st.Epoch + 1, Index: 2, Nodes: 5, Threshold: 3, Keys: id.Public().Marshal()}
		mc := &wire.MemberChange{Index: 2, Challenges: chs, Joiner: wire.Hello{NodeID: 2, Nodes: 5, Threshold: 3, Attestation: wire.AttestationSimulated,
			Cluster: st.Cluster, Epoch: st.Epoch + 1, Identity: id.Public().Marshal(), Evidence: forged(t, claim, nonce)}}
		var es []wire.Endorsement
		for _, x := range []int{3, 4} {
			resp, err := cl[x].Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 2, Params: mustMarshal(t, mc)})
			if err != nil {
				t.Fatalf("malicious node %d would endorse, its oracle refused: %v", x+1, err)
			}
			var e wire.Endorsement
			if err := e.Unmarshal(resp.Result); err != nil {
				t.Fatal(err)
			}
			es = append(es, e)
		}
		for _, set := range [][]wire.Endorsement{es, {es[0], es[1], es[0]}, {es[1], es[1], es[1]}} {
			mc.Endorsements = set
			for _, x := range []int{0, 2} {
				_, err := cl[x].Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 3, Params: mustMarshal(t, mc)})
				if we := refused(t, err, wire.CodeRefused); !strings.Contains(we.Message, "endorsement") {
					t.Fatalf("node %d: %v", x+1, we)
				}
			}
		}
		for i, x := range cl {
			if s := status(t, x); s.Epoch != st.Epoch {
				t.Fatalf("node %d moved to epoch %d", i+1, s.Epoch)
			}
		}
		// And re-share to index 2 is still refused.
		var sid [32]byte
		rand.Read(sid[:])
		_, err = cl[0].Relay(ctx, &wire.RelayRequest{Protocol: wire.ProtoReshare, Session: sid, Step: 1, Params: []byte{2, 1, 4, 5}})
		refused(t, err, wire.CodeRefused)
	})

	t.Run("backdated token", func(t *testing.T) {
		g.t = t
		// The colluders' clocks run 5 s slow: node 4, leading {1,4,5},
		// proposes a time 5 s in the past; nodes 4 and 5 begin it, the
		// honest node 1 does not, so there is no token.
		c.Clocks[3].SetOffset(-5 * time.Second)
		c.Clocks[4].SetOffset(-5 * time.Second)
		defer c.Clocks[3].SetOffset(0)
		defer c.Clocks[4].SetOffset(0)
		set := []uint8{1, 4, 5}
		f := *mldsaFields(7)
		prop, err := cl[3].Propose(ctx, &wire.ProposeRequest{Signers: set, Fields: f})
		if err != nil {
			t.Fatal(err)
		}
		req := &wire.BeginRequest{Session: sessionID(77), Signers: set, Fields: f, Proposal: *prop}
		for _, id := range []uint8{4, 5} {
			if _, err := cl[id-1].Begin(ctx, req); err != nil {
				t.Fatalf("malicious node %d on its own clock: %v", id, err)
			}
			defer cl[id-1].End(ctx, req.Session)
		}
		_, err = cl[0].Begin(ctx, req)
		if we := refused(t, err, wire.CodeRefused); !strings.Contains(we.Message, "behind") {
			t.Fatalf("node 1: %v", we)
		}
		// Tokens the coordinator does issue meanwhile have an interval
		// that contains the honest signers' time.
		issued := 0
		for i := range 3 {
			before := time.Now()
			iss, err := c.Coordinator.Issue(ctx, mldsaFields(byte(80+i)))
			after := time.Now()
			if err != nil {
				continue // a set with a slow colluder is refused: no token
			}
			issued++
			lo, hi := iss.Info.GenTime.Add(-iss.Info.Accuracy), iss.Info.GenTime.Add(iss.Info.Accuracy)
			if lo.After(after) || hi.Before(before) {
				t.Errorf("token by %v: [%v, %v] misses the honest clock's [%v, %v]", iss.Signers, lo, hi, before, after)
			}
		}
		if issued == 0 {
			t.Error("no token issued while two nodes' clocks were slow")
		}
	})

	bansOnly(t, cl, honest, 4, 5)
	issueToken(t, c)
}

// forgeSender returns raw with its header claiming sender id: the
// signature no longer verifies.
func forgeSender(t *testing.T, raw []byte, id uint8) []byte {
	t.Helper()
	var e peer.Envelope
	if err := e.Unmarshal(raw); err != nil {
		t.Fatal(err)
	}
	e.Sender = id
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestMembershipRateLimit: an oracle takes part in at most Nodes −
// Threshold = 2 membership changes per window (1 h): a third replacement
// within the window is refused by every endorser, with a clear error, and
// no epoch moves for it.
func TestMembershipRateLimit(t *testing.T) {
	c := testtsa.StartClusterWith(t, testtsa.ClusterConfig{Nodes: 5, Threshold: 3, Attested: true})
	before := status(t, clients(c)[0]).Epoch
	for _, id := range []int{2, 3} {
		c.Cancel[id-1]()
		if err := c.Replace(t, id); err != nil {
			t.Fatalf("replacing node %d: %v", id, err)
		}
	}
	c.Cancel[3]()
	err := c.Replace(t, 4)
	if err == nil || !strings.Contains(err.Error(), "membership changes in the last 1h0m0s") {
		t.Fatalf("a third change in the window: %v", err)
	}
	for _, i := range []int{0, 1, 2, 4} {
		if got := status(t, clients(c)[i]).Epoch; got != before+2 {
			t.Fatalf("node %d at epoch %d, want %d", i+1, got, before+2)
		}
	}
	issueToken(t, c)
}
