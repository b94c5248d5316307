//go:build ccfault

package hostile

import (
	"context"
	"crypto/rand"
	"slices"
	"sync"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/oracle"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/wrapper/internal/testtsa"
	"github.com/cc-tsa/cc-tsa/wrapper/oracleclient"
)

// TestGeneratedMutations runs the generator's campaign (generator_test.go)
// against one 3-of-5 cluster: every request type the coordinator sends,
// recorded from honest runs, times every mutation class that applies to
// it. Afterwards no oracle bans anyone, the tables the campaign filled are
// back within their limits, and the cluster still issues tokens.
func TestGeneratedMutations(t *testing.T) {
	c := testtsa.StartClusterWith(t, testtsa.ClusterConfig{Nodes: 5, Threshold: 3, CrossCheck: true})
	g := newGen(t, c)
	set := []uint8{1, 2, 3}

	// Inbound envelopes of honest runs of each relayed protocol, for the
	// "mix" class (node 1's step-2 inbound, and node 5's for the pair).
	foreign := map[wire.Protocol][][]byte{}
	{
		p := g.newRelay(wire.ProtoECDSAPresign, set, []byte{1, 2, 3, 1})
		p.advance(1)
		foreign[wire.ProtoECDSAPresign] = p.inboundFor(1, 1)
		p.abandon(3)
		tc := g.newRelay(wire.ProtoTimeCheck, []uint8{1, 2, 3, 4, 5}, nil)
		tc.advance(1)
		foreign[wire.ProtoTimeCheck] = tc.inboundFor(1, 1)
		ps := g.newRelay(wire.ProtoPairSetup, []uint8{1, 5}, []byte{1, 5})
		ps.advance(1)
		foreign[wire.ProtoPairSetup] = ps.inboundFor(1, 1)
		ps.abandon(6)
	}

	t.Run("Round", func(t *testing.T) {
		g.t = t
		for _, r := range []uint8{2, 3} {
			for _, to := range set {
				// One fresh pair of sessions per mutant: a refusal may
				// end the attempt it hit.
				fixture := func() (*signRun, *signRun, *wire.RoundRequest) {
					s, twin := g.newSign(set, false), g.newSign(set, false)
					s.start()
					twin.start()
					for x := uint8(2); x < r; x++ {
						s.advance(x)
						twin.advance(x)
					}
					return s, twin, s.request(r, to)
				}
				s, twin, genuine := fixture()
				ms := deriveRound(genuine, to, s, twin)
				s.end()
				twin.end()
				for i := range ms {
					s, twin, genuine := fixture()
					// Re-derive against this fixture's sessions.
					m := deriveRound(genuine, to, s, twin)[i]
					g.probe(m)
					s.end()
					twin.end()
				}
				// Replayed after it ran: refused, never a second
				// message from the same mask.
				s, _, genuine = fixture()
				first, err := g.cl[to-1].Round(context.Background(), genuine)
				if err != nil {
					t.Fatal(err)
				}
				resp, err := send(g.cl[to-1], genuine)
				if err == nil {
					out := resp.(*wire.RoundResponse).Payload
					if !slices.Equal(out, first.Payload) {
						t.Errorf("CRITICAL: round %d replayed to node %d gave a different message (mask reuse)", r, to)
					}
				}
				g.check(mutant{class: "replay", desc: "after it ran", to: to, msg: genuine}, resp, err)
				s.end()
				// Two concurrent copies: one computes.
				s, _, genuine = fixture()
				g.concurrent(to, genuine, func(a, b any) bool {
					return slices.Equal(a.(*wire.RoundResponse).Payload, b.(*wire.RoundResponse).Payload)
				})
				s.end()
			}
		}
	})

	t.Run("Begin", func(t *testing.T) {
		g.t = t
		for _, hybrid := range []bool{false, true} {
			to := uint8(2)
			s, twin := g.newSign(set, hybrid), g.newSign(set, hybrid)
			// Before any Begin: another oracle, another signer set.
			for _, n := range []uint8{4, 5} {
				g.probe(mutant{class: "relabel", desc: "to a non-signer", to: n, msg: s.begin})
			}
			for _, other := range sets(to) {
				if !slices.Equal(other, set) {
					m := clone(s.begin)
					m.Signers = other
					g.probe(mutant{class: "params", desc: "another signer set", to: to, msg: m})
				}
			}
			// After Begin on every signer: the same, the twin's id, the
			// same proposal under a fresh id (serial reuse), and the
			// same presignature under a fresh proposal.
			s.start()
			twin.start()
			g.probe(mutant{class: "replay", desc: "after it ran", to: to, msg: s.begin})
			m := clone(s.begin)
			m.Session = twin.sid
			g.probe(mutant{class: "session", desc: "twin's session id", to: to, msg: m})
			m = clone(s.begin)
			rand.Read(m.Session[:])
			g.probe(mutant{class: "replay", desc: "serial reused under a fresh session id", to: to, msg: m})
			m = clone(s.begin)
			m.Proposal, m.Fields = twin.begin.Proposal, twin.begin.Fields
			rand.Read(m.Session[:])
			g.probe(mutant{class: "session", desc: "twin's proposal under a fresh session id", to: to, msg: m})
			if hybrid {
				fresh := g.newSign(set, false)
				m := clone(fresh.begin)
				m.Fields.Policy, m.Presign = wire.PolicyHybrid, s.presign
				g.probe(mutant{class: "replay", desc: "presignature used again", to: to, msg: m})
			}
			for _, n := range set {
				g.probe(mutant{class: "relabel", desc: "End of the twin (a drop)", to: n, msg: endRequest(twin.sid)})
			}
			s.end()
			// Two concurrent copies: one opens the session.
			s = g.newSign(set, hybrid)
			g.concurrent(to, s.begin, nil)
			s.end()
		}
	})

	t.Run("Attach", func(t *testing.T) {
		g.t = t
		for _, to := range set {
			s, twin := g.newSign(set, true), g.newSign(set, true)
			s.start()
			twin.start()
			sig, tsig := s.sign(), twin.sign()
			att := &wire.AttachRequest{Session: s.sid, MLDSASignature: sig}
			for _, n := range []uint8{4, 5} {
				g.probe(mutant{class: "relabel", desc: "to a non-signer", to: n, msg: att})
			}
			m := clone(att)
			m.Session = twin.sid
			g.probe(mutant{class: "session", desc: "signature of another session", to: to, msg: m})
			m = clone(att)
			m.MLDSASignature = tsig
			g.probe(mutant{class: "params", desc: "twin's signature", to: to, msg: m})
			// Concurrent copies: at most one ECDSA share per presignature.
			shares := g.concurrent(to, att, nil)
			if n := len(shares); n != 1 {
				t.Errorf("%d concurrent attaches answered", n)
			} else if len(shares[0].(*wire.AttachResponse).ECDSA) == 0 {
				t.Error("a hybrid attach gave no ECDSA share")
			}
			g.probe(mutant{class: "replay", desc: "after it ran", to: to, msg: att})
		}
	})

	t.Run("BeginCSR", func(t *testing.T) {
		g.t = t
		to := uint8(1)
		ps := g.presignatures(set, 2)
		req := &wire.BeginCSRRequest{Signers: set, Presign: ps[0]}
		rand.Read(req.Session[:])
		for _, n := range []uint8{4, 5} {
			g.probe(mutant{class: "relabel", desc: "to a non-signer", to: n, msg: req})
		}
		if _, err := g.cl[to-1].BeginCSR(context.Background(), req); err != nil {
			t.Fatal(err)
		}
		defer g.cl[to-1].End(context.Background(), req.Session)
		g.probe(mutant{class: "replay", desc: "after it ran", to: to, msg: req})
		m := clone(req)
		rand.Read(m.Session[:])
		g.probe(mutant{class: "replay", desc: "presignature used again", to: to, msg: m})
		m = clone(req)
		rand.Read(m.Session[:])
		m.Signers, m.Presign = []uint8{1, 2, 4}, ps[1]
		g.probe(mutant{class: "params", desc: "another signer set", to: to, msg: m})
	})

	// relayCampaign runs the mutants of the genuine requests of steps to
	// the targets. Mutants that the claim of a step refuses (another
	// receiver outside the run, session, params, step or protocol) share
	// one live fixture, and the genuine request must still succeed on it
	// after them: the refusals changed nothing. Mutants that reach the
	// run's inbound checks (which end the run) get a fresh fixture each.
	relayCampaign := func(t *testing.T, proto wire.Protocol, nodes, targets []uint8, params []byte, steps []uint8, maxStep uint8, alt func(to uint8) [][]byte) {
		for _, s := range steps {
			for _, to := range targets {
				fixture := func() (*relayRun, *relayRun, *wire.RelayRequest) {
					r, twin := g.newRelay(proto, nodes, params), g.newRelay(proto, nodes, params)
					for x := uint8(1); x < s; x++ {
						r.advance(x)
						twin.advance(x)
					}
					return r, twin, r.request(s, to)
				}
				ends := func(m mutant) bool {
					// A step 1 that is answered (by design, see allowed)
					// uses up its session id.
					if s == 1 || m.class == "mix" || m.class == "readdress" {
						return true
					}
					return m.class == "relabel" && slices.Contains(nodes, m.to)
				}
				shared, sharedTwin, genuine := fixture()
				ms := deriveRelay(genuine, to, shared, sharedTwin, alt(to), maxStep, foreign)
				for i, m := range ms {
					if !ends(m) {
						m.answered = g.probe(m)
						g.abandon(m, maxStep)
						continue
					}
					r, twin, genuine := fixture()
					m := deriveRelay(genuine, to, r, twin, alt(to), maxStep, foreign)[i]
					m.answered = g.probe(m)
					g.abandon(m, maxStep)
					r.abandon(maxStep)
					twin.abandon(maxStep)
				}
				if _, err := g.cl[to-1].Relay(context.Background(), genuine); err != nil {
					t.Fatalf("%v step %d on node %d after the refused mutants: %v", proto, s, to, err)
				}
				g.probe(mutant{class: "replay", desc: "after it ran", to: to, msg: genuine})
				shared.abandon(maxStep)
				sharedTwin.abandon(maxStep)
				r, twin, genuine := fixture()
				g.concurrent(to, genuine, disjointReplies)
				r.abandon(maxStep)
				twin.abandon(maxStep)
			}
		}
	}

	t.Run("Relay/presign", func(t *testing.T) {
		g.t = t
		relayCampaign(t, wire.ProtoECDSAPresign, set, set, []byte{1, 2, 3, 1}, []uint8{1, 2, 3}, 3, func(to uint8) [][]byte {
			var out [][]byte
			for _, s := range sets(to) {
				out = append(out, append(s, 1))
			}
			return append(out, []byte{1, 2, 3, 2})
		})
	})
	t.Run("Relay/pair setup", func(t *testing.T) {
		g.t = t
		// A pair setup's steps are heavy (base OTs): the first step with
		// inbound messages and the installing step, on one side.
		relayCampaign(t, wire.ProtoPairSetup, []uint8{1, 5}, []uint8{5}, []byte{1, 5}, []uint8{1, 2, 6}, 6, func(to uint8) [][]byte {
			var out [][]byte
			for _, n := range others(to) {
				out = append(out, []byte{min(to, n), max(to, n)})
			}
			return out
		})
		// The replays of step 6 installed a new pair on one side: an
		// honest pair setup puts both sides back in agreement.
		r := g.newRelay(wire.ProtoPairSetup, []uint8{1, 5}, []byte{1, 5})
		for s := uint8(1); s <= 6; s++ {
			r.advance(s)
		}
		if !slices.Equal(r.res[6][1], r.res[6][5]) {
			t.Fatal("the honest pair setup gave the two sides different pair ids")
		}
	})
	t.Run("Relay/time check", func(t *testing.T) {
		g.t = t
		relayCampaign(t, wire.ProtoTimeCheck, []uint8{1, 2, 3, 4, 5}, []uint8{1, 4}, nil, []uint8{1, 2, 3}, 3, func(uint8) [][]byte {
			return [][]byte{{1}}
		})
	})
	t.Run("Relay/re-share", func(t *testing.T) {
		g.t = t
		// No index joined in this epoch: every re-share request is
		// refused, whatever it is mutated into.
		r := g.newRelay(wire.ProtoReshare, []uint8{1, 3, 5}, []byte{2, 1, 3, 5})
		for _, s := range []uint8{1, 2} {
			g.probe(mutant{class: "params", desc: "genuine shape, no joiner", to: 1, msg: r.request(s, 1)})
			for _, m := range deriveRelay(r.request(s, 1), 1, r, nil, [][]byte{{4, 1, 2, 3}, {1, 2, 3, 5}, {2, 3, 4, 5}}, 2, foreign) {
				g.probe(m)
			}
		}
	})
	t.Run("Relay/membership challenge", func(t *testing.T) {
		g.t = t
		r := g.newRelay(wire.ProtoMembership, nil, nil)
		for _, m := range deriveRelay(r.request(1, 1), 1, r, nil, [][]byte{{1}}, 3, foreign) {
			g.probe(m)
		}
	})
	t.Run("Hello and Peers", func(t *testing.T) {
		g.t = t
		byID := map[uint8]*oracleclient.Client{}
		for i, x := range g.cl {
			byID[uint8(i+1)] = x
		}
		chs := challenges(t, byID)
		hr := &wire.HelloRequest{Nonce: membership.Nonce(chs)}
		var hellos []wire.Hello
		for i, x := range g.cl {
			h, err := x.Hello(context.Background(), hr)
			if err != nil {
				t.Fatal(err)
			}
			if h.NodeID != uint8(i+1) {
				t.Fatalf("node %d claims node %d", i+1, h.NodeID)
			}
			hellos = append(hellos, *h)
		}
		st := status(t, g.cl[0])
		for _, n := range others(1) {
			g.probe(mutant{class: "relabel", desc: "another node's Hello request", to: n, msg: hr})
		}
		m := clone(hr)
		m.Cluster, m.Epoch = [32]byte{1}, st.Epoch+1
		g.probe(mutant{class: "params", desc: "another cluster and epoch", to: 1, msg: m})
		// The ceremony's Peers request, genuine in shape: refused by a
		// keyed oracle however it is sent.
		peers := &wire.PeersRequest{Challenges: chs, Peers: hellos}
		for n := uint8(1); n <= 5; n++ {
			g.probe(mutant{class: "relabel", desc: "ceremony Peers after the keys", to: n, msg: peers})
		}
		swapped := clone(peers)
		swapped.Peers = slices.Clone(hellos)
		swapped.Peers[1].Identity, swapped.Peers[3].Identity = hellos[3].Identity, hellos[1].Identity
		g.probe(mutant{class: "readdress", desc: "two identities swapped", to: 1, msg: swapped})
	})

	g.report()
	noBans(t, c)
	for i, o := range c.Oracles {
		pc := o.PresignCounts()
		if pc.Runs > oracle.MaxPresignRuns || pc.Pairs > oracle.MaxPairRuns || pc.Presignatures > oracle.MaxPresignatures {
			t.Errorf("node %d: %+v beyond the limits", i+1, pc)
		}
	}
	presignEverySet(t, c)
	issueToken(t, c)
}

// abandon ends whatever run a relay mutant may have started on its
// receiver (a step with no inbound messages fails and removes it).
func (g *gen) abandon(m mutant, steps uint8) {
	r, ok := m.msg.(*wire.RelayRequest)
	if !ok || !m.answered || (r.Protocol != wire.ProtoECDSAPresign && r.Protocol != wire.ProtoPairSetup) {
		return
	}
	for s := uint8(2); s <= steps; s++ {
		g.cl[m.to-1].Relay(context.Background(), &wire.RelayRequest{Protocol: r.Protocol, Session: r.Session, Step: s, Params: r.Params})
	}
}

// disjointReplies reports whether two relay answers sent envelopes to
// disjoint receivers: two concurrent time-check step 2 copies may share
// out the probes they answer, but no probe is answered twice.
func disjointReplies(a, b any) bool {
	x, ok1 := a.(*wire.RelayResponse)
	y, ok2 := b.(*wire.RelayResponse)
	if !ok1 || !ok2 {
		return false
	}
	seen := map[uint8]bool{}
	for _, raw := range x.Outbound {
		var e peer.Envelope
		if e.Unmarshal(raw) != nil {
			return false
		}
		seen[e.Receiver] = true
	}
	for _, raw := range y.Outbound {
		var e peer.Envelope
		if e.Unmarshal(raw) != nil || seen[e.Receiver] {
			return false
		}
	}
	return true
}

// concurrent sends two copies of m to node to at once: at most one is
// answered (unless fine says two answers are), and the other is refused.
// It returns the answers.
func (g *gen) concurrent(to uint8, m any, fine func(a, b any) bool) []any {
	g.t.Helper()
	var wg sync.WaitGroup
	resps, errs := make([]any, 2), make([]error, 2)
	for i := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resps[i], errs[i] = send(g.cl[to-1], m)
		}()
	}
	wg.Wait()
	g.mu.Lock()
	g.tried[typeName(m)+" concurrent"]++
	g.mu.Unlock()
	var ok, substantive []any
	for i := range 2 {
		if errs[i] == nil {
			ok = append(ok, resps[i])
			if !allowed(mutant{class: "concurrent", to: to, msg: m}, resps[i]) {
				substantive = append(substantive, resps[i])
			}
		}
	}
	switch {
	case len(ok) == 0:
		g.t.Errorf("%s: neither concurrent copy ran: %v, %v", typeName(m), errs[0], errs[1])
	case len(substantive) == 2 && (fine == nil || !fine(substantive[0], substantive[1])):
		g.t.Errorf("CRITICAL: %s computed twice by node %d", typeName(m), to)
	}
	for i := range 2 {
		if errs[i] != nil {
			g.check(mutant{class: "concurrent", desc: "a second copy at once", to: to, msg: m}, nil, errs[i])
		}
	}
	return ok
}

// TestTimeCheckVerdictOnce: a coordinator that repeats step 3 of a
// time-check round (with the round's replies, or with none) would have the
// oracle hand its clock the round's verdict again, as fresh peer evidence
// without a new exchange. The verdict is given once; a new round recovers.
func TestTimeCheckVerdictOnce(t *testing.T) {
	c := testtsa.StartClusterWith(t, testtsa.ClusterConfig{Nodes: 5, Threshold: 3, CrossCheck: true})
	g := newGen(t, c)
	all := []uint8{1, 2, 3, 4, 5}
	for round := range 3 {
		r := g.newRelay(wire.ProtoTimeCheck, all, nil)
		for s := uint8(1); s <= 3; s++ {
			r.advance(s)
		}
		for _, id := range all {
			if round == 0 {
				continue // a first round has nobody vouching yet
			}
			if v := r.res[3][id]; len(v) == 0 || v[0] != 1 {
				t.Fatalf("node %d: verdict %q", id, v)
			}
			for _, in := range [][][]byte{r.inboundFor(2, id), nil} {
				_, err := g.cl[id-1].Relay(context.Background(), &wire.RelayRequest{Protocol: wire.ProtoTimeCheck, Session: r.sid, Step: 3, Inbound: in})
				namesNoOne(t, err, wire.CodeBadRequest)
			}
		}
	}
}
