package oracle

import (
	"crypto/rand"
	"sync/atomic"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
)

// The threshold fuzz targets drive node 1 of the shared 3-of-5 cluster
// (sharedCluster) through Handle, the oracle's whole request interface.
// Each input is used twice: as a raw request payload (seeded with the
// genuine requests recorded in the cluster's honest run, so the decoders
// and handlers see real structure), and as an XOR mask over a genuine
// request made fresh for the oracle's current state (an open session, a
// presigning run at step 1, ...), so mutations reach the code behind the
// state checks. Invariants: no panic; every answer is a known response
// type or an Error whose code decodes; and the oracle can still sign.
//
// The signing check (a hybrid token with presignature, Begin, the ML-DSA
// rounds, Attach and both combinations) costs tens of milliseconds against
// well under a millisecond for most inputs, so it runs on the first input
// and then every signEvery inputs of each target in a process: damage an
// input leaves behind persists in the shared cluster, so it is caught
// within signEvery inputs, and the seed-corpus run of every target
// checks it at least once.
const signEvery = 8

// fuzzTarget runs a threshold fuzz target for requests of type typ. fresh
// returns a genuine request for node 1's current state and a cleanup, or
// nil; restore, if not nil, undoes what an input may legitimately change
// (peer keys without attestation, certificates) before the signing check.
func fuzzTarget(f *testing.F, typ wire.Type, fresh func(t *testing.T, c *testCluster) ([]byte, func()), restore func(c *testCluster)) {
	c := sharedCluster(f)
	for _, s := range c.seeds(typ) {
		f.Add(s, []byte{0x01}, uint32(len(s)/2))
	}
	f.Add([]byte{}, []byte{}, uint32(0))
	var n atomic.Uint64
	f.Fuzz(func(t *testing.T, payload, mask []byte, at uint32) {
		o := c.nodes[0]
		checkAnswer(t, o.Handle(wire.Frame{Type: typ, ID: 1, Payload: payload}))
		if fresh != nil {
			g, done := fresh(t, c)
			if len(g) > 0 {
				for i, m := range mask {
					g[(int(at%uint32(len(g)))+i)%len(g)] ^= m
				}
			}
			checkAnswer(t, o.Handle(wire.Frame{Type: typ, ID: 2, Payload: g}))
			if done != nil {
				done()
			}
		}
		if restore != nil {
			restore(c)
		}
		if n.Add(1)%signEvery == 1 {
			if err := c.signToken(wire.PolicyHybrid); err != nil {
				t.Fatalf("the oracle cannot sign after this input: %v", err)
			}
		}
	})
}

// checkAnswer fails unless f is a known response, or an Error frame whose
// payload decodes to a *wire.Error with a known code.
func checkAnswer(t *testing.T, f wire.Frame) {
	t.Helper()
	if f.Type == wire.TypeError {
		var we wire.Error
		if err := we.Unmarshal(f.Payload); err != nil {
			t.Fatalf("error frame does not decode: %v", err)
		}
		return
	}
	if !f.Type.Known() {
		t.Fatalf("answered with unknown type %v", f.Type)
	}
}

func marshal(t *testing.T, m interface{ Marshal() ([]byte, error) }) []byte {
	t.Helper()
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// openSession begins an ML-DSA-only session on signers 1, 2, 3 and
// returns its id and the commitments; End discards it.
func openSession(t *testing.T, c *testCluster) (wire.SessionID, [][]byte, func()) {
	t.Helper()
	set := c.subset(signers)
	f := &wire.TokenFields{Policy: wire.PolicyMLDSA, HashAlg: wire.SHA256, Imprint: make([]byte, 32)}
	prop, err := set[0].Propose(&wire.ProposeRequest{Signers: signers, Fields: *f})
	if err != nil {
		t.Fatalf("propose: %v", err)
	}
	var sid wire.SessionID
	rand.Read(sid[:])
	cmts := make([][]byte, len(set))
	for i, o := range set {
		b, err := o.Begin(&wire.BeginRequest{Session: sid, Signers: signers, Fields: *f, Proposal: *prop})
		if err != nil {
			t.Fatalf("begin: %v", err)
		}
		cmts[i] = b.Round1
	}
	return sid, cmts, func() {
		for _, o := range set {
			o.End(sid)
		}
	}
}

// roundInbound is node 1's inbound for a round, its own message empty.
func roundInbound(prev [][]byte) []wire.RoundMessage {
	var in []wire.RoundMessage
	for i, id := range signers {
		m := wire.RoundMessage{From: id}
		if id != 1 {
			m.Payload = prev[i]
		}
		in = append(in, m)
	}
	return in
}

// FuzzThresholdRound: ML-DSA rounds 2 (commitments in) and 3 (reveals in)
// of a fresh session.
func FuzzThresholdRound(f *testing.F) {
	fuzzTarget(f, wire.TypeRoundRequest, func(t *testing.T, c *testCluster) ([]byte, func()) {
		sid, cmts, done := openSession(t, c)
		req := &wire.RoundRequest{Session: sid, Scheme: wire.SchemeMLDSA65, Round: 2, Inbound: roundInbound(cmts)}
		if cmts[0][len(cmts[0])-1]&1 == 1 { // about half the inputs: round 3
			revs, err := c.round(c.subset(signers), sid, 2, cmts)
			if err != nil {
				t.Fatalf("round 2: %v", err)
			}
			req = &wire.RoundRequest{Session: sid, Scheme: wire.SchemeMLDSA65, Round: 3, Inbound: roundInbound(revs)}
		}
		return marshal(t, req), done
	}, nil)
}

// FuzzThresholdRelay: every relayed protocol (the seeds hold each step of
// the key generations, presigning and key confirmation); fresh inputs are
// step 2 of a presigning run that signers 1, 2, 3 began.
func FuzzThresholdRelay(f *testing.F) {
	fuzzTarget(f, wire.TypeRelayRequest, func(t *testing.T, c *testCluster) ([]byte, func()) {
		var sid [32]byte
		rand.Read(sid[:])
		params := []byte{1, 2, 3, 1}
		var in [][]byte
		for _, o := range c.subset(signers) {
			resp, err := o.Relay(&wire.RelayRequest{Protocol: wire.ProtoECDSAPresign, Session: sid, Step: 1, Params: params})
			if err != nil {
				t.Fatalf("presign step 1: %v", err)
			}
			if o.cfg.NodeID == 1 {
				continue
			}
			for _, raw := range resp.Outbound {
				var e peer.Envelope
				if e.Unmarshal(raw) == nil && (e.Receiver == 1 || e.Receiver == peer.Broadcast) {
					in = append(in, raw)
				}
			}
		}
		// Afterwards every signer's run is ended (a step without its
		// inbound messages fails and drops the run), so that the runs a
		// long fuzz session opens stay within the oracles' bound.
		done := func() {
			for _, o := range c.subset(signers) {
				o.Relay(&wire.RelayRequest{Protocol: wire.ProtoECDSAPresign, Session: sid, Step: 2, Params: params})
			}
		}
		return marshal(t, &wire.RelayRequest{Protocol: wire.ProtoECDSAPresign, Session: sid, Step: 2, Params: params, Inbound: in}), done
	}, nil)
}

// FuzzThresholdPeers: peer lists. The ceremony fixed the membership, so
// every one must be refused and leave the membership as it was.
func FuzzThresholdPeers(f *testing.F) {
	fuzzTarget(f, wire.TypePeersRequest, func(t *testing.T, c *testCluster) ([]byte, func()) {
		return marshal(t, c.peersReq), nil
	}, func(c *testCluster) {
		if c.nodes[0].epochID() != c.epoch {
			panic("a Peers request changed the membership")
		}
	})
}

// FuzzThresholdBegin: Begin on a fresh proposal (ML-DSA only, so that no
// presignature is needed to get past the checks).
func FuzzThresholdBegin(f *testing.F) {
	fuzzTarget(f, wire.TypeBeginRequest, func(t *testing.T, c *testCluster) ([]byte, func()) {
		fl := &wire.TokenFields{Policy: wire.PolicyMLDSA, HashAlg: wire.SHA384, Imprint: make([]byte, 48), Nonce: []byte{1, 2}}
		prop, err := c.nodes[0].Propose(&wire.ProposeRequest{Signers: signers, Fields: *fl})
		if err != nil {
			t.Fatalf("propose: %v", err)
		}
		var sid wire.SessionID
		rand.Read(sid[:])
		return marshal(t, &wire.BeginRequest{Session: sid, Signers: signers, Fields: *fl, Proposal: *prop}), func() { c.nodes[0].End(sid) }
	}, nil)
}

// FuzzThresholdBeginCSR: the certification-request session.
func FuzzThresholdBeginCSR(f *testing.F) {
	fuzzTarget(f, wire.TypeBeginCSRRequest, func(t *testing.T, c *testCluster) ([]byte, func()) {
		var sid wire.SessionID
		var pid wire.PresignID
		rand.Read(sid[:])
		rand.Read(pid[:])
		return marshal(t, &wire.BeginCSRRequest{Session: sid, Signers: signers, Presign: pid}), func() { c.nodes[0].End(sid) }
	}, nil)
}

// FuzzThresholdAttach: Attach on an open session.
func FuzzThresholdAttach(f *testing.F) {
	fuzzTarget(f, wire.TypeAttachRequest, func(t *testing.T, c *testCluster) ([]byte, func()) {
		sid, _, done := openSession(t, c)
		return marshal(t, &wire.AttachRequest{Session: sid, MLDSASignature: make([]byte, 3309)}), done
	}, nil)
}

// FuzzThresholdInstall: certificate references; the genuine ones are
// reinstalled afterwards.
func FuzzThresholdInstall(f *testing.F) {
	fuzzTarget(f, wire.TypeInstallRequest, func(t *testing.T, c *testCluster) ([]byte, func()) {
		return marshal(t, c.install), nil
	}, func(c *testCluster) {
		if err := c.nodes[0].Install(c.install); err != nil {
			panic("reinstalling the certificates: " + err.Error())
		}
	})
}

// FuzzThresholdHello: nonces.
func FuzzThresholdHello(f *testing.F) {
	fuzzTarget(f, wire.TypeHelloRequest, func(t *testing.T, c *testCluster) ([]byte, func()) {
		n := make([]byte, wire.NonceSize)
		rand.Read(n)
		return n, nil
	}, nil)
}

// FuzzThresholdEnd: session ids, fresh inputs naming an open session.
func FuzzThresholdEnd(f *testing.F) {
	fuzzTarget(f, wire.TypeEndRequest, func(t *testing.T, c *testCluster) ([]byte, func()) {
		sid, _, done := openSession(t, c)
		return sid[:], done
	}, nil)
}

// FuzzThresholdPropose: token fields.
func FuzzThresholdPropose(f *testing.F) {
	fuzzTarget(f, wire.TypeProposeRequest, func(t *testing.T, c *testCluster) ([]byte, func()) {
		return marshal(t, fields()), nil
	}, nil)
}

// FuzzThresholdHandle: any frame type with any payload (Status included).
func FuzzThresholdHandle(f *testing.F) {
	c := sharedCluster(f)
	for _, typ := range []wire.Type{wire.TypeStatusRequest, wire.TypeRelayRequest, wire.TypeRoundRequest, wire.TypeBeginRequest} {
		for _, s := range c.seeds(typ) {
			f.Add(uint8(typ), s)
			break
		}
	}
	f.Add(uint8(wire.TypeStatusRequest), []byte{})
	f.Fuzz(func(t *testing.T, typ uint8, payload []byte) {
		checkAnswer(t, c.nodes[0].Handle(wire.Frame{Type: wire.Type(typ), ID: 1, Payload: payload}))
		if c.nodes[0].epochID() != c.epoch {
			t.Fatal("the membership changed")
		}
		if err := c.nodes[0].Install(c.install); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzCeremonyRelay drives node 1 of five peered oracles without keys
// through the key generations' relay steps: for each input, both key
// generations start afresh on every node (step 1), then node 1 receives
// step 2 as the input's mask over the genuine request, then the genuine
// request, then step 3 with whatever it got. Invariants: no panic; every
// answer is a known response or an Error with a known code. (A step after
// an aborted key generation once dereferenced the aborted state.)
func FuzzCeremonyRelay(f *testing.F) {
	c, err := newPeeredCluster()
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{0x01}, uint32(0), uint8(0))
	f.Add([]byte{0xff, 0xff}, uint32(40), uint8(1))
	f.Add([]byte{}, uint32(0), uint8(2))
	f.Fuzz(func(t *testing.T, mask []byte, at uint32, proto uint8) {
		p := []wire.Protocol{wire.ProtoMLDSADKG, wire.ProtoECDSADKG, wire.ProtoRefresh}[proto%3]
		var sid [32]byte
		rand.Read(sid[:])
		d := &refreshDriver{t: t, out: map[int]map[uint8][][]byte{1: {}}}
		for _, o := range c.nodes {
			resp, err := o.Relay(&wire.RelayRequest{Protocol: p, Session: sid, Step: 1})
			if err != nil {
				continue
			}
			d.out[1][o.cfg.NodeID] = resp.Outbound
		}
		genuine := &wire.RelayRequest{Protocol: p, Session: sid, Step: 2, Inbound: d.inbound(2, 1)}
		g, err := genuine.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if len(g) > 0 {
			for i, m := range mask {
				g[(int(at%uint32(len(g)))+i)%len(g)] ^= m
			}
		}
		o := c.nodes[0]
		checkAnswer(t, o.Handle(wire.Frame{Type: wire.TypeRelayRequest, ID: 1, Payload: g}))
		g, _ = genuine.Marshal()
		checkAnswer(t, o.Handle(wire.Frame{Type: wire.TypeRelayRequest, ID: 2, Payload: g}))
		g, _ = (&wire.RelayRequest{Protocol: p, Session: sid, Step: 3}).Marshal()
		checkAnswer(t, o.Handle(wire.Frame{Type: wire.TypeRelayRequest, ID: 3, Payload: g}))
	})
}
