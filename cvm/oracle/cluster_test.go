package oracle

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/cc-tsa/cc-tsa/cvm/membership"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
	"golang.org/x/crypto/cryptobyte"
)

// testCluster is five threshold oracles (3 of 5) after a complete key
// ceremony, driven in process by calling their methods: the tests' own
// relay, equivalent to the coordinator's. Requests addressed to node 1
// during the honest run are recorded, by message type, as fuzz seeds.
type testCluster struct {
	nodes    []*Oracle // index i is node i+1
	clock    *testClock
	mldsaPK  *mldsa.PublicKey
	params   mldsa.Params
	ecdsaPub *ecdsa.PublicKey
	keyID    [32]byte
	peersReq *wire.PeersRequest
	// epoch is the membership digest the ceremony fixed.
	epoch   [32]byte
	install *wire.InstallRequest

	mu   sync.Mutex
	seen map[wire.Type][][]byte // genuine requests to node 1, encoded
}

var (
	clusterOnce sync.Once
	clusterVal  *testCluster
	clusterErr  error
)

// sharedCluster returns the test process's cluster, building it on first
// use (the ceremony takes seconds).
func sharedCluster(tb testing.TB) *testCluster {
	tb.Helper()
	clusterOnce.Do(func() { clusterVal, clusterErr = newTestCluster() })
	if clusterErr != nil {
		tb.Fatalf("threshold test cluster: %v", clusterErr)
	}
	return clusterVal
}

// record keeps the encoding of a genuine request to node 1.
func (c *testCluster) record(id uint8, t wire.Type, m interface{ Marshal() ([]byte, error) }) {
	if id != 1 {
		return
	}
	b, err := m.Marshal()
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// One seed per relayed protocol and step, per round, and a few of
	// every other type.
	for _, old := range c.seen[t] {
		switch t {
		case wire.TypeRelayRequest:
			if old[0] == b[0] && old[33] == b[33] {
				return
			}
		case wire.TypeRoundRequest:
			if old[17] == b[17] {
				return
			}
		}
	}
	if len(c.seen[t]) < 24 {
		c.seen[t] = append(c.seen[t], b)
	}
}

// seeds returns the recorded genuine requests of type t.
func (c *testCluster) seeds(t wire.Type) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen[t]
}

func newTestCluster() (*testCluster, error) {
	c, err := newPeeredCluster()
	if err != nil {
		return nil, err
	}
	return c, c.runCeremony()
}

// newPeeredCluster is five oracles that fixed their membership (Peers)
// and have no keys yet.
func newPeeredCluster() (*testCluster, error) {
	clk := &testClock{}
	clk.set(0, true)
	name, err := tst.EncodeName([][2]string{{"CN", "threshold test"}})
	if err != nil {
		return nil, err
	}
	c := &testCluster{clock: clk, seen: map[wire.Type][][]byte{}}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for id := uint8(1); id <= 5; id++ {
		o, err := New(Config{TSAName: name, Clock: clk, Logger: log, NodeID: id, Nodes: 5, Threshold: 3, MLDSAPool: 2})
		if err != nil {
			return nil, err
		}
		c.nodes = append(c.nodes, o)
	}
	var chs []wire.Challenge
	for _, o := range c.nodes {
		resp, err := o.Relay(&wire.RelayRequest{Protocol: wire.ProtoMembership, Step: 1})
		if err != nil {
			return nil, fmt.Errorf("challenge: %w", err)
		}
		chs = append(chs, wire.Challenge{Node: o.cfg.NodeID, Value: [wire.NonceSize]byte(resp.Result)})
	}
	hreq := &wire.HelloRequest{Nonce: membership.Nonce(chs)}
	c.record(1, wire.TypeHelloRequest, hreq)
	c.peersReq = &wire.PeersRequest{Challenges: chs}
	for _, o := range c.nodes {
		h, err := o.Hello(hreq)
		if err != nil {
			return nil, err
		}
		c.peersReq.Peers = append(c.peersReq.Peers, *h)
	}
	for _, o := range c.nodes {
		c.record(o.cfg.NodeID, wire.TypePeersRequest, c.peersReq)
		if err := o.Peers(c.peersReq); err != nil {
			return nil, fmt.Errorf("peers: %w", err)
		}
	}
	c.epoch = c.nodes[0].epochID()
	return c, nil
}

// runCeremony runs both key generations, the ECDSA key confirmation and
// the certificate installation, and issues one hybrid token.
func (c *testCluster) runCeremony() error {
	var sid [32]byte
	rand.Read(sid[:])
	res, err := c.relay(c.nodes, wire.ProtoMLDSADKG, sid, 6, nil)
	if err != nil {
		return fmt.Errorf("ML-DSA DKG: %w", err)
	}
	if c.mldsaPK, err = mldsa.ParsePublicKey(res[0][:mldsa.PublicKeySize]); err != nil {
		return err
	}
	if c.params, err = mldsa.ParamsFor(3, 5); err != nil {
		return err
	}
	rand.Read(sid[:])
	if res, err = c.relay(c.nodes, wire.ProtoECDSADKG, sid, 6, nil); err != nil {
		return fmt.Errorf("ECDSA DKG: %w", err)
	}
	epub := res[0][:97]
	if c.ecdsaPub, err = ecdsa.ParseUncompressedPublicKey(elliptic.P384(), epub); err != nil {
		return err
	}
	c.keyID = wire.ClusterKeyID(c.mldsaPK.Bytes(), epub)
	if err := c.confirm(); err != nil {
		return fmt.Errorf("key confirmation: %w", err)
	}
	ref := wire.CertInfo{Certificate: []byte{0x30, 0x01, 0x00}, Issuer: []byte{0x30, 0x00}, Serial: []byte{0x01}}
	c.install = &wire.InstallRequest{ECDSA: ref, MLDSA: ref}
	for _, o := range c.nodes {
		c.record(o.cfg.NodeID, wire.TypeInstallRequest, c.install)
		if err := o.Install(c.install); err != nil {
			return err
		}
	}
	// One honest hybrid token records the signing requests.
	if err := c.signToken(wire.PolicyHybrid); err != nil {
		return fmt.Errorf("first token: %w", err)
	}
	return nil
}

// rawRequest is a request whose encoding is given (Hello's nonce, End's
// session id).
type rawRequest []byte

func (r rawRequest) Marshal() ([]byte, error) { return r, nil }

// relay runs a relayed protocol among set as the coordinator does: each
// step's broadcasts go to every other member, direct envelopes to their
// receiver. It returns every node's result of the last step.
func (c *testCluster) relay(set []*Oracle, proto wire.Protocol, sid [32]byte, steps int, params []byte) ([][]byte, error) {
	inbound := map[uint8][][]byte{}
	var results [][]byte
	for step := 1; step <= steps; step++ {
		next := map[uint8][][]byte{}
		results = results[:0]
		for _, o := range set {
			id := o.cfg.NodeID
			req := &wire.RelayRequest{Protocol: proto, Session: sid, Step: uint8(step), Params: params, Inbound: inbound[id]}
			c.record(id, wire.TypeRelayRequest, req)
			resp, err := o.Relay(req)
			if err != nil {
				return nil, fmt.Errorf("%v step %d, node %d: %w", proto, step, id, err)
			}
			results = append(results, resp.Result)
			for _, raw := range resp.Outbound {
				var e peer.Envelope
				if err := e.Unmarshal(raw); err != nil {
					return nil, err
				}
				for _, p := range set {
					to := p.cfg.NodeID
					if to != id && (e.Receiver == peer.Broadcast || e.Receiver == to) {
						next[to] = append(next[to], raw)
					}
				}
			}
		}
		inbound = next
	}
	return results, nil
}

// subset returns the oracles with the given node ids.
func (c *testCluster) subset(ids []uint8) []*Oracle {
	var out []*Oracle
	for _, id := range ids {
		out = append(out, c.nodes[id-1])
	}
	return out
}

// presign makes one presignature among the signer set ids.
func (c *testCluster) presign(ids []uint8) (wire.PresignID, error) {
	var sid [32]byte
	rand.Read(sid[:])
	params := append(append([]byte(nil), ids...), 1)
	if _, err := c.relay(c.subset(ids), wire.ProtoECDSAPresign, sid, 3, params); err != nil {
		return wire.PresignID{}, err
	}
	return wire.PresignBatchID(sid, 0), nil
}

// confirm runs the ECDSA key confirmation: every signer subset signs its
// confirmation digest, then every node gets all the signatures.
func (c *testCluster) confirm() error {
	var b cryptobyte.Builder
	for _, subset := range tecdsa.Subsets() {
		ids := make([]uint8, len(subset))
		for i, s := range subset {
			ids[i] = uint8(s)
		}
		pid, err := c.presign(ids)
		if err != nil {
			return err
		}
		var shares []*tecdsa.SignShare
		var keyID [32]byte
		for _, o := range c.subset(ids) {
			req := &wire.RelayRequest{Protocol: wire.ProtoECDSAConfirm, Session: pid, Step: 1, Params: ids}
			c.record(o.cfg.NodeID, wire.TypeRelayRequest, req)
			resp, err := o.Relay(req)
			if err != nil {
				return err
			}
			if len(resp.Outbound) != 1 || len(resp.Result) != len(keyID) {
				return errors.New("malformed confirmation response")
			}
			copy(keyID[:], resp.Result)
			want := peer.Header{Kind: wire.EnvECDSAConfirm, KeyID: c.keyID, Session: pid, Round: 1, Sender: o.cfg.NodeID, Receiver: peer.Broadcast}
			p, err := peer.Decode(resp.Outbound[0], want)
			if err != nil {
				return err
			}
			sh := new(tecdsa.SignShare)
			if err := sh.UnmarshalBinary(p); err != nil {
				return err
			}
			shares = append(shares, sh)
		}
		sig, err := tecdsa.Combine(c.ecdsaPub, tecdsa.ConfirmationDigest(keyID, subset), shares)
		if err != nil {
			return err
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sig) })
	}
	params := b.BytesOrPanic()
	for _, o := range c.nodes {
		req := &wire.RelayRequest{Protocol: wire.ProtoECDSAConfirm, Step: 2, Params: params}
		c.record(o.cfg.NodeID, wire.TypeRelayRequest, req)
		if _, err := o.Relay(req); err != nil {
			return err
		}
	}
	return nil
}

// signers is the signer set the cluster's tokens use.
var signers = []uint8{1, 2, 3}

// signToken issues one token with signers 1, 2, 3 and checks both
// signatures: Propose, Begin, the ML-DSA attempts until one combines,
// Attach and the ECDSA combination, as the coordinator does.
func (c *testCluster) signToken(policy wire.Policy) error { return c.signTokenBy(policy, signers) }

// signTokenBy is signToken with the given signer set.
func (c *testCluster) signTokenBy(policy wire.Policy, signers []uint8) error {
	set := c.subset(signers)
	f := &wire.TokenFields{Policy: policy, HashAlg: wire.SHA256, Imprint: make([]byte, 32), Nonce: []byte{7}, CertReq: true}
	var presign wire.PresignID
	if policy == wire.PolicyHybrid {
		var err error
		if presign, err = c.presign(signers); err != nil {
			return fmt.Errorf("presign: %w", err)
		}
	}
	preq := &wire.ProposeRequest{Signers: signers, Fields: *f}
	c.record(1, wire.TypeProposeRequest, preq)
	prop, err := set[0].Propose(preq)
	if err != nil {
		return fmt.Errorf("propose: %w", err)
	}
	var sid wire.SessionID
	rand.Read(sid[:])
	defer func() {
		for _, o := range set {
			o.End(sid)
		}
	}()
	c.record(1, wire.TypeEndRequest, rawRequest(sid[:]))
	cmts := make([][]byte, len(set))
	var attrs []byte
	for i, o := range set {
		req := &wire.BeginRequest{Session: sid, Signers: signers, Fields: *f, Proposal: *prop, Presign: presign}
		c.record(o.cfg.NodeID, wire.TypeBeginRequest, req)
		b, err := o.Begin(req)
		if err != nil {
			return fmt.Errorf("begin on node %d: %w", o.cfg.NodeID, err)
		}
		cmts[i], attrs = b.Round1, b.MLDSASignedAttrs
	}
	mu, err := c.mldsaPK.Mu(attrs, nil)
	if err != nil {
		return err
	}
	var sig []byte
	for a := 0; sig == nil; a++ {
		if a >= MaxAttempts {
			return errors.New("no ML-DSA attempt succeeded")
		}
		base := uint8(3 * a)
		if a > 0 {
			if cmts, err = c.round(set, sid, base+1, nil); err != nil {
				return err
			}
		}
		revs, err := c.round(set, sid, base+2, cmts)
		if err != nil {
			return err
		}
		resps, err := c.round(set, sid, base+3, revs)
		if err != nil {
			return err
		}
		sig, err = c.combineMLDSA(signers, sid, a, mu, base, cmts, revs, resps)
		if err != nil && !errors.Is(err, mldsa.ErrNoValidSlot) {
			return err
		}
	}
	var shares []*tecdsa.SignShare
	var ecdsaAttrs []byte
	for _, o := range set {
		req := &wire.AttachRequest{Session: sid, MLDSASignature: sig}
		c.record(o.cfg.NodeID, wire.TypeAttachRequest, req)
		ar, err := o.Attach(req)
		if err != nil {
			return fmt.Errorf("attach on node %d: %w", o.cfg.NodeID, err)
		}
		if policy != wire.PolicyHybrid {
			continue
		}
		ecdsaAttrs = ar.ECDSASignedAttrs
		want := peer.Header{Kind: wire.EnvECDSASign, KeyID: c.keyID, Session: wire.EnvelopeSession(sid), Round: 1, Sender: o.cfg.NodeID, Receiver: peer.Broadcast}
		p, err := peer.Decode(ar.ECDSA, want)
		if err != nil {
			return err
		}
		sh := new(tecdsa.SignShare)
		if err := sh.UnmarshalBinary(p); err != nil {
			return err
		}
		shares = append(shares, sh)
	}
	if policy == wire.PolicyHybrid {
		d := sha512.Sum384(ecdsaAttrs)
		esig, err := tecdsa.Combine(c.ecdsaPub, d[:], shares)
		if err != nil {
			return fmt.Errorf("ECDSA combine: %w", err)
		}
		if !ecdsa.VerifyASN1(c.ecdsaPub, d[:], esig) {
			return errors.New("combined ECDSA signature does not verify")
		}
	}
	if !c.mldsaPK.Verify(attrs, nil, sig) {
		return errors.New("combined ML-DSA signature does not verify")
	}
	return nil
}

// round runs ML-DSA round r on every signer with the previous round's
// envelopes (each signer's own left empty, as the coordinator sends it).
func (c *testCluster) round(set []*Oracle, sid wire.SessionID, r uint8, prev [][]byte) ([][]byte, error) {
	out := make([][]byte, len(set))
	for i, o := range set {
		req := &wire.RoundRequest{Session: sid, Scheme: wire.SchemeMLDSA65, Round: r}
		for j, p := range set {
			m := wire.RoundMessage{From: p.cfg.NodeID}
			if p != o && prev != nil {
				m.Payload = prev[j]
			}
			if prev != nil {
				req.Inbound = append(req.Inbound, m)
			}
		}
		c.record(o.cfg.NodeID, wire.TypeRoundRequest, req)
		resp, err := o.Round(req)
		if err != nil {
			return nil, fmt.Errorf("ML-DSA round %d on node %d: %w", r, o.cfg.NodeID, err)
		}
		out[i] = resp.Payload
	}
	return out, nil
}

// combineMLDSA decodes the envelopes of attempt a and combines them.
func (c *testCluster) combineMLDSA(signers []uint8, sid wire.SessionID, a int, mu [mldsa.MuSize]byte, base uint8, cmtEnvs, revEnvs, respEnvs [][]byte) ([]byte, error) {
	cmts := make([]*mldsa.Commitment, len(signers))
	revs := make([]*mldsa.Reveal, len(signers))
	resps := make([]*mldsa.Response, len(signers))
	for i, id := range signers {
		h := peer.Header{Kind: wire.EnvMLDSASign, KeyID: c.keyID, Session: wire.EnvelopeSession(sid), Sender: id, Receiver: peer.Broadcast}
		var err error
		if cmts[i], err = decodeEnv[mldsa.Commitment](cmtEnvs[i], h, base+1); err != nil {
			return nil, err
		}
		if revs[i], err = decodeEnv[mldsa.Reveal](revEnvs[i], h, base+2); err != nil {
			return nil, err
		}
		if resps[i], err = decodeEnv[mldsa.Response](respEnvs[i], h, base+3); err != nil {
			return nil, err
		}
	}
	ids := make([]int, len(signers))
	for i, id := range signers {
		ids[i] = int(id) - 1
	}
	cfg := mldsa.SessionConfig{SessionID: wire.MLDSAAttemptID(sid, c.keyID, a), Signers: ids, Mu: mu}
	return mldsa.CombineChecked(c.params, c.mldsaPK, cfg, cmts, revs, resps)
}

// decodeEnv decodes the payload of the envelope raw of round r.
func decodeEnv[T any, PT interface {
	*T
	UnmarshalBinary([]byte) error
}](raw []byte, h peer.Header, r uint8) (*T, error) {
	h.Round = uint16(r)
	p, err := peer.Decode(raw, h)
	if err != nil {
		return nil, err
	}
	x := PT(new(T))
	if err := x.UnmarshalBinary(p); err != nil {
		return nil, err
	}
	return (*T)(x), nil
}

// TestThresholdCluster checks the fixture: a hybrid and an ML-DSA-only
// token, and a seed recorded for every request type the fuzz targets use.
func TestThresholdCluster(t *testing.T) {
	c := sharedCluster(t)
	for _, p := range []wire.Policy{wire.PolicyHybrid, wire.PolicyMLDSA} {
		if err := c.signToken(p); err != nil {
			t.Fatalf("policy %v: %v", p, err)
		}
	}
	for _, typ := range []wire.Type{wire.TypeHelloRequest, wire.TypePeersRequest, wire.TypeRelayRequest, wire.TypeInstallRequest,
		wire.TypeProposeRequest, wire.TypeBeginRequest, wire.TypeRoundRequest, wire.TypeAttachRequest, wire.TypeEndRequest} {
		if len(c.seeds(typ)) == 0 {
			t.Errorf("no genuine %v recorded", typ)
		}
	}
}
