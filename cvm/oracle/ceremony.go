package oracle

import (
	"bytes"
	"crypto/rand"
	"fmt"
	"sync"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
)

// ceremony is this oracle's state in the key ceremony.
type ceremony struct {
	mu sync.Mutex // serialises the steps

	mldsaSID   [32]byte
	mldsaStep  uint8
	mldsaDKG   *mldsa.DKG
	mldsaOwn   []byte // this oracle's broadcast payload of the previous step
	mldsaShare *mldsa.KeyShare
	mldsaPK    *mldsa.PublicKey

	ecdsaSID   [32]byte
	ecdsaStep  uint8
	ecdsaDKG   *tecdsa.DKG
	ecdsaShare *tecdsa.KeyShare
}

func (c *ceremony) abort() {
	if c.mldsaDKG != nil {
		c.mldsaDKG.Abort()
		c.mldsaDKG = nil
	}
	c.ecdsaDKG = nil
}

// Relay advances one step of a relayed multi-party protocol.
func (o *Oracle) Relay(req *wire.RelayRequest) (*wire.RelayResponse, error) {
	if o.whole != nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "the single-oracle mode runs no multi-party protocols"}
	}
	o.mu.Lock()
	st := o.state
	if o.cer == nil {
		o.cer = &ceremony{}
	}
	c := o.cer
	o.mu.Unlock()
	if st == wire.StateStopping {
		return nil, &wire.Error{Code: wire.CodeNotReady, Message: "oracle is stopping"}
	}
	if err := o.relayFault(req, false); err != nil {
		return nil, err
	}
	resp, err := o.relayStep(c, req)
	if err == nil {
		err = o.relayFault(req, true)
	}
	return resp, err
}

// relayStep dispatches a relay request to its protocol.
func (o *Oracle) relayStep(c *ceremony, req *wire.RelayRequest) (*wire.RelayResponse, error) {
	switch req.Protocol {
	case wire.ProtoMLDSADKG:
		return o.mldsaDKGStep(c, req)
	case wire.ProtoECDSADKG:
		return o.ecdsaDKGStep(c, req)
	case wire.ProtoECDSAPresign:
		return o.presignStep(req)
	case wire.ProtoECDSAConfirm:
		return o.confirmStep(req)
	case wire.ProtoReshare:
		return o.reshareStep(c, req)
	case wire.ProtoPairSetup:
		return o.pairSetupStep(req)
	case wire.ProtoTimeCheck:
		return o.timeCheckStep(req)
	case wire.ProtoMembership:
		return o.membershipStep(req)
	case wire.ProtoRefresh:
		return o.refreshStep(req)
	}
	return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "unknown protocol"}
}

// openInbound opens relay envelopes for one step: broadcasts and messages
// addressed to this oracle, from peers other than itself: at most one
// broadcast per sender, and no envelope twice. It returns the payloads with their senders, in the
// order given. A failure names a culprit only when the culprit's signature
// covers the offending bytes (see open): an envelope that does not decode
// or verify, a misaddressed one or an exact duplicate (all of which the
// relay can make) names no one; two different broadcasts that both verify
// name their sender, who signed both.
func (o *Oracle) openInbound(raw [][]byte, kind uint8, keyID, sid [32]byte, round uint16) ([]inbound, error) {
	var out []inbound
	copies := map[string]bool{}    // every envelope, to refuse replays
	broadcasts := map[uint8]bool{} // senders whose broadcast was opened
	for _, r := range raw {
		var e peer.Envelope
		if err := e.Unmarshal(r); err != nil {
			return nil, unauthenticated(0, "envelope", err)
		}
		if e.Sender == o.cfg.NodeID || e.Sender > o.cfg.Nodes {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("envelope from node %d", e.Sender)}
		}
		if e.Receiver != peer.Broadcast && e.Receiver != o.cfg.NodeID {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("envelope for node %d delivered to node %d", e.Receiver, o.cfg.NodeID)}
		}
		want := peer.Header{Kind: kind, KeyID: keyID, Session: sid, Round: round, Sender: e.Sender, Receiver: e.Receiver}
		if copies[string(r)] {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("round %d: a message of node %d came twice", round, e.Sender)}
		}
		copies[string(r)] = true
		if broadcasts[e.Sender] && e.Receiver == peer.Broadcast {
			if _, err := o.openEnvelope(r, want); err != nil {
				return nil, err
			}
			return nil, culprit(e.Sender, "two different signed broadcasts", fmt.Errorf("round %d", round))
		}
		if e.Receiver == peer.Broadcast {
			broadcasts[e.Sender] = true
		}
		p, err := o.openEnvelope(r, want)
		if err != nil {
			return nil, err
		}
		out = append(out, inbound{from: e.Sender, data: p, direct: e.Receiver != peer.Broadcast})
	}
	return out, nil
}

// outbox collects the envelopes an oracle sends in one relay step.
type outbox struct {
	o     *Oracle
	kind  uint8
	keyID [32]byte
	sid   [32]byte
	round uint16
	envs  [][]byte
	err   error
}

func (b *outbox) add(to uint8, m binaryMarshaler, confidential bool) {
	if b.err != nil {
		return
	}
	p, err := m.MarshalBinary()
	if err != nil {
		b.err = err
		return
	}
	env, err := b.o.seal(b.kind, b.keyID, b.sid, b.round, to, p, confidential)
	if err != nil {
		b.err = err
		return
	}
	b.envs = append(b.envs, env)
}

func (b *outbox) response(result []byte) (*wire.RelayResponse, error) {
	if b.err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: b.err.Error()}
	}
	return &wire.RelayResponse{Outbound: b.envs, Result: result}, nil
}

type transcriptSigner struct{ id *peer.Identity }

func (t transcriptSigner) SignTranscript(d []byte) ([]byte, error) { return t.id.SignTranscript(d) }

func (o *Oracle) mldsaDKGStep(c *ceremony, req *wire.RelayRequest) (*wire.RelayResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	o.mu.Lock()
	has := o.th != nil
	o.mu.Unlock()
	if has || c.mldsaShare != nil {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: "this oracle already holds an ML-DSA key share"}
	}
	if req.Step == 1 {
		if c.mldsaDKG != nil {
			c.mldsaDKG.Abort()
		}
		c.mldsaSID, c.mldsaStep, c.mldsaOwn = req.Session, 0, nil
	}
	if req.Session != c.mldsaSID || req.Step != c.mldsaStep+1 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("ML-DSA DKG step %d is not expected (at step %d)", req.Step, c.mldsaStep)}
	}
	if req.Step > 1 && c.mldsaDKG == nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "no ML-DSA key generation in progress (it was aborted): start again at step 1"}
	}
	epoch := o.epochID()
	out := &outbox{o: o, kind: envMLDSADKG, keyID: epoch, sid: req.Session, round: uint16(req.Step)}
	var in []inbound
	if req.Step > 1 {
		var err error
		if in, err = o.openInbound(req.Inbound, envMLDSADKG, epoch, req.Session, uint16(req.Step-1)); err != nil {
			c.abort()
			return nil, err
		}
	}
	// broadcasts decodes every party's broadcast of the previous step, this
	// oracle's own first.
	broadcasts := func(fresh func() binaryCodec) ([]binaryCodec, error) {
		own := fresh()
		if err := own.UnmarshalBinary(c.mldsaOwn); err != nil {
			return nil, err
		}
		res := []binaryCodec{own}
		for _, m := range in {
			if m.direct {
				continue
			}
			x := fresh()
			if err := x.UnmarshalBinary(m.data); err != nil {
				return nil, culprit(m.from, "ML-DSA DKG message", err)
			}
			res = append(res, x)
		}
		if len(res) != int(o.cfg.Nodes) {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%d broadcasts for %d parties", len(res), o.cfg.Nodes)}
		}
		return res, nil
	}
	var (
		err    error
		result []byte
		own    binaryMarshaler
	)
	switch req.Step {
	case 1:
		d, cm, seeds, e := mldsa.NewDKG(mldsa.DKGConfig{
			T: int(o.cfg.Threshold), N: int(o.cfg.Nodes), ID: int(o.cfg.NodeID) - 1, SessionID: req.Session,
			Signer: transcriptSigner{o.identity}, Verify: o.transcriptVerifier(),
		}, rand.Reader)
		if e != nil {
			return nil, &wire.Error{Code: wire.CodeInternal, Message: e.Error()}
		}
		c.mldsaDKG, own = d, cm
		for _, sd := range seeds {
			out.add(uint8(sd.To+1), sd, true)
		}
	case 2:
		var bs []binaryCodec
		if bs, err = broadcasts(func() binaryCodec { return new(mldsa.DKGCommit) }); err != nil {
			break
		}
		var seeds []*mldsa.DKGSeed
		for _, m := range in {
			if !m.direct {
				continue
			}
			sd := new(mldsa.DKGSeed)
			if e := sd.UnmarshalBinary(m.data); e != nil {
				err = culprit(m.from, "ML-DSA DKG seed", e)
				break
			}
			seeds = append(seeds, sd)
		}
		if err == nil {
			var rv *mldsa.DKGReveal
			if rv, err = c.mldsaDKG.Round2(castAll[*mldsa.DKGCommit](bs), seeds); err == nil {
				own = rv
			}
		}
	case 3:
		var bs []binaryCodec
		if bs, err = broadcasts(func() binaryCodec { return new(mldsa.DKGReveal) }); err == nil {
			var tc *mldsa.DKGTCommit
			if tc, err = c.mldsaDKG.Round3(castAll[*mldsa.DKGReveal](bs)); err == nil {
				own = tc
			}
		}
	case 4:
		var bs []binaryCodec
		if bs, err = broadcasts(func() binaryCodec { return new(mldsa.DKGTCommit) }); err == nil {
			var tr *mldsa.DKGTReveal
			if tr, err = c.mldsaDKG.Round4(castAll[*mldsa.DKGTCommit](bs)); err == nil {
				own = tr
			}
		}
	case 5:
		var bs []binaryCodec
		if bs, err = broadcasts(func() binaryCodec { return new(mldsa.DKGTReveal) }); err == nil {
			var cf *mldsa.DKGConfirm
			if cf, err = c.mldsaDKG.Round5(castAll[*mldsa.DKGTReveal](bs)); err == nil {
				own = cf
			}
		}
	case 6:
		var bs []binaryCodec
		if bs, err = broadcasts(func() binaryCodec { return new(mldsa.DKGConfirm) }); err == nil {
			var ks *mldsa.KeyShare
			var pk *mldsa.PublicKey
			var transcript [64]byte
			if ks, pk, transcript, err = c.mldsaDKG.Finish(castAll[*mldsa.DKGConfirm](bs)); err == nil {
				c.mldsaShare, c.mldsaPK, c.mldsaDKG = ks, pk, nil
				result = append(bytes.Clone(pk.Bytes()), transcript[:]...)
				o.log.Info("ML-DSA-65 distributed key generation complete")
				err = o.installKeys(c)
			}
		}
	default:
		err = &wire.Error{Code: wire.CodeBadRequest, Message: "ML-DSA DKG has six steps"}
	}
	if err != nil {
		c.abort()
		o.log.Warn("ML-DSA DKG aborted", "step", req.Step, "err", err)
		return nil, abortError(err)
	}
	c.mldsaStep, c.mldsaOwn = req.Step, nil
	if own != nil {
		p, e := own.MarshalBinary()
		if e != nil {
			return nil, &wire.Error{Code: wire.CodeInternal, Message: e.Error()}
		}
		c.mldsaOwn = p
		out.add(peer.Broadcast, rawMsg(p), false)
	}
	return out.response(result)
}

type binaryCodec interface {
	MarshalBinary() ([]byte, error)
	UnmarshalBinary([]byte) error
}

type rawMsg []byte

func (r rawMsg) MarshalBinary() ([]byte, error) { return r, nil }

func castAll[T any, S any](xs []S) []T {
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = any(x).(T)
	}
	return out
}

func (o *Oracle) transcriptVerifier() mldsa.TranscriptVerifier {
	return func(party int, digest, sig []byte) bool {
		node := uint8(party + 1)
		if node == o.cfg.NodeID {
			return o.identity.Public().VerifyTranscript(digest, sig)
		}
		o.mu.Lock()
		pk, ok := o.peers[node]
		o.mu.Unlock()
		return ok && pk.VerifyTranscript(digest, sig)
	}
}

// installKeys installs the threshold keys once both key generations are
// done.
func (o *Oracle) installKeys(c *ceremony) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if c.mldsaShare == nil || c.ecdsaShare == nil || o.th != nil {
		return nil
	}
	k, err := newThresholdKeys(o.cfg.NodeID, c.mldsaShare, c.ecdsaShare, o.cfg.MLDSAPool, o.sessionsOpen)
	if err != nil {
		return fmt.Errorf("installing threshold keys: %w", err)
	}
	o.th = k
	o.log.Info("threshold keys ready; waiting for key confirmation and certificates")
	return nil
}
