package coordinator

import (
	"errors"
	"fmt"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
)

// An oracle that refuses a relayed message as unauthenticated
// (wire.CodeUnauthenticated) names no culprit: a relay can alter or forge
// such a message, and no signature ties its bytes to the sender. This
// coordinator relays every envelope exactly as it received it from its
// sender, so it can find the culprit itself: it checks the envelopes it
// received from each sender against that sender's attested identity key
// and blames the sender whose own envelope fails. Only a failed step pays
// for the check. If every envelope checks out, the refusing oracle failed
// envelopes that verify, and it is the one blamed (the error keeps naming
// it).

// unauthenticated reports whether err carries an oracle's refusal of an
// unauthenticated relayed message.
func unauthenticated(err error) bool {
	var we *wire.Error
	return errors.As(err, &we) && we.Code == wire.CodeUnauthenticated
}

// checkEnvelope checks that raw, produced by node n, decodes, carries the
// header want and is signed by n's identity key. An encrypted payload is
// not decrypted (the coordinator cannot): its signature covers the
// ciphertext, and a receiver that fails to decrypt a signed ciphertext
// names its sender itself. It returns the payload of an unencrypted
// envelope.
func checkEnvelope(n *Node, raw []byte, want peer.Header) ([]byte, error) {
	id := n.Identity()
	if id == nil {
		return nil, nil // not attested here: nothing to check it against
	}
	var e peer.Envelope
	if err := e.Unmarshal(raw); err != nil {
		return nil, &NodeError{Node: n.ID(), Err: fmt.Errorf("its own envelope does not decode: %w", err)}
	}
	p, err := peer.Open(&e, *id, want, nil)
	if err != nil && !errors.Is(err, peer.ErrDecrypt) {
		return nil, &NodeError{Node: n.ID(), Err: fmt.Errorf("its own envelope does not verify: %w", err)}
	}
	return p, nil
}

// blameRelayStep finds the sender of a bad envelope among the outputs of
// step (outputs[i] is what set[i] produced) after an oracle refused one as
// unauthenticated in the next step. It returns the blame, or orig when
// every envelope verifies.
//
// The oracles derive the key id and session their envelopes carry (the
// membership epoch, the relay context over the parameters, membership and
// sharing), which the coordinator does not recompute: it checks each
// envelope against the values it carries and requires all senders to agree
// on them. Senders that disagree are in different memberships or sharings
// (a node that missed a membership change or a refresh commit), which is no
// one's signed fault: the error names no node.
func blameRelayStep(set []*Node, proto wire.Protocol, step int, outputs [][][]byte, orig error) error {
	kind, ok := envelopeKind(proto)
	if !ok {
		return orig
	}
	var ref *peer.Envelope
	var refNode uint8
	for i, envs := range outputs {
		for _, raw := range envs {
			e := new(peer.Envelope)
			if err := e.Unmarshal(raw); err != nil {
				return &NodeError{Node: set[i].ID(), Err: fmt.Errorf("its own envelope does not decode: %w", err)}
			}
			want := peer.Header{Kind: kind, KeyID: e.KeyID, Session: e.Session, Round: uint16(step), Sender: set[i].ID(), Receiver: e.Receiver}
			if _, err := checkEnvelope(set[i], raw, want); err != nil {
				return fmt.Errorf("%w (found after: %v)", err, orig)
			}
			if ref == nil {
				ref, refNode = e, set[i].ID()
			} else if e.KeyID != ref.KeyID || e.Session != ref.Session {
				return fmt.Errorf("coordinator: nodes %d and %d bind %v step %d to different contexts (different memberships, sharings or parameters); no culprit (after: %v)", refNode, set[i].ID(), proto, step, orig)
			}
		}
	}
	return orig
}

// envelopeKind is the envelope kind of a relayed protocol.
func envelopeKind(p wire.Protocol) (uint8, bool) {
	switch p {
	case wire.ProtoMLDSADKG:
		return wire.EnvMLDSADKG, true
	case wire.ProtoECDSADKG:
		return wire.EnvECDSADKG, true
	case wire.ProtoECDSAPresign:
		return wire.EnvECDSAPresign, true
	case wire.ProtoECDSAConfirm:
		return wire.EnvECDSAConfirm, true
	case wire.ProtoReshare:
		return wire.EnvReshare, true
	case wire.ProtoPairSetup:
		return wire.EnvPairSetup, true
	case wire.ProtoTimeCheck:
		return wire.EnvTimeCheck, true
	case wire.ProtoRefresh:
		return wire.EnvRefresh, true
	}
	return 0, false
}

// blameCommitments finds the signer whose commitment envelope of ML-DSA
// round r does not verify, after an oracle refused one; it returns orig if
// all verify.
func (c *Coordinator) blameCommitments(set []*Node, sid wire.SessionID, r uint8, envs [][]byte, orig error) error {
	for i, n := range set {
		if _, err := checkEnvelope(n, envs[i], c.signHeader(sid, r, n)); err != nil {
			return fmt.Errorf("%w (found after: %v)", err, orig)
		}
	}
	return orig
}

// blameReveals finds the signer whose reveal of ML-DSA round r does not
// open its commitment (round r-1), or whose envelopes do not verify, after
// an oracle refused a reveal; it returns orig if all are sound.
func (c *Coordinator) blameReveals(set []*Node, sid wire.SessionID, a int, r uint8, cmtEnvs, revEnvs [][]byte, mu [mldsa.MuSize]byte, orig error) error {
	found := func(id uint8, err error) error {
		return fmt.Errorf("%w (found after: %v)", &NodeError{Node: id, Err: err}, orig)
	}
	cmts := make([]*mldsa.Commitment, len(set))
	revs := make([]*mldsa.Reveal, len(set))
	for i, n := range set {
		id := n.Identity()
		if id == nil {
			return orig
		}
		p, err := checkEnvelope(n, cmtEnvs[i], c.signHeader(sid, r-1, n))
		if err != nil {
			return fmt.Errorf("%w (found after: %v)", err, orig)
		}
		cmts[i] = new(mldsa.Commitment)
		if err := cmts[i].UnmarshalBinary(p); err != nil || cmts[i].Sender != int(n.ID())-1 {
			return found(n.ID(), fmt.Errorf("its own commitment is malformed: %v", err))
		}
		var e peer.Envelope
		if err := e.Unmarshal(revEnvs[i]); err != nil {
			return found(n.ID(), fmt.Errorf("its own reveal envelope does not decode: %w", err))
		}
		p, err = peer.OpenCommitted(&e, *id, c.signHeader(sid, r, n), cmts[i].Hash[:])
		if err != nil {
			return found(n.ID(), fmt.Errorf("its own reveal envelope does not verify: %w", err))
		}
		revs[i] = new(mldsa.Reveal)
		if err := revs[i].UnmarshalBinary(p); err != nil || revs[i].Sender != int(n.ID())-1 {
			return found(n.ID(), fmt.Errorf("its own reveal is malformed: %v", err))
		}
	}
	signers := make([]int, len(set))
	for i, n := range set {
		signers[i] = int(n.ID()) - 1
	}
	cfg := mldsa.SessionConfig{SessionID: wire.MLDSAAttemptID(sid, c.keyID, a), Signers: signers, Mu: mu}
	err := mldsa.CheckReveals(c.params, c.mldsaPub, cfg, cmts, revs)
	var ae *mldsa.AbortError
	if errors.As(err, &ae) && ae.Culprit >= 0 {
		return found(uint8(ae.Culprit+1), fmt.Errorf("its own reveal does not open its commitment: %w", err))
	}
	return orig
}

// signHeader is the header of node n's broadcast in ML-DSA round r of
// session sid.
func (c *Coordinator) signHeader(sid wire.SessionID, r uint8, n *Node) peer.Header {
	return peer.Header{Kind: wire.EnvMLDSASign, KeyID: c.keyID, Session: wire.EnvelopeSession(sid), Round: uint16(r), Sender: n.ID(), Receiver: peer.Broadcast}
}
