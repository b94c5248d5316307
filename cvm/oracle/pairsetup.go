package oracle

import (
	"crypto/rand"
	"encoding/hex"
	"slices"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
)

// pairState is the protocol state of one pair setup (a runTable entry).
type pairState struct {
	ps *tecdsa.PairSetup
}

// pairSetupStep runs the pairwise ECDSA OT setup between a replacement node
// and one peer. Params: the two node ids, ascending. Steps 1-5 exchange one
// message each way; step 6 installs the result and returns its pair id
// (tecdsa.KeyShare.PairID), which both sides report the same. The
// envelopes are bound to the relay context (relayContext), and the setup's
// session id is that context, so the pair id binds the pair's identities.
// If step 6 reaches one side only, the two sides hold different pair ids;
// presigning between them then aborts without blame (tecdsa.ErrContext)
// until a new pair setup succeeds on both.
func (o *Oracle) pairSetupStep(req *wire.RelayRequest) (*wire.RelayResponse, error) {
	k, err := o.keys()
	if err != nil {
		return nil, err
	}
	if len(req.Params) != 2 || req.Params[0] >= req.Params[1] || !slices.Contains(req.Params, o.cfg.NodeID) || req.Params[1] > o.cfg.Nodes {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "pair setup parameters"}
	}
	if req.Step < 1 || req.Step > 6 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "pair setup has six steps"}
	}
	// A pair setup does not depend on the key shares, so its context binds
	// no sharing: it survives a share refresh.
	ctx, err := o.relayContext(wire.ProtoPairSetup, req.Session, req.Params, [32]byte{}, req.Params)
	if err != nil {
		return nil, err
	}
	id := wire.PresignID(req.Session)
	k.mu.Lock()
	run, err := k.pairs.claimLocked(id, req.Step, ctx, k.now())
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	resp, err := o.pairRunStep(k, &run.state, req, ctx)
	k.mu.Lock()
	k.pairs.releaseLocked(id, run, req.Step, err == nil)
	k.mu.Unlock()
	return resp, err
}

// pairRunStep computes a claimed step of a pair setup.
func (o *Oracle) pairRunStep(k *thresholdKeys, run *pairState, req *wire.RelayRequest, ctx [32]byte) (*wire.RelayResponse, error) {
	peerID := req.Params[0]
	if peerID == o.cfg.NodeID {
		peerID = req.Params[1]
	}
	out := &outbox{o: o, kind: wire.EnvPairSetup, keyID: k.keyID, sid: ctx, round: uint16(req.Step)}
	var in *tecdsa.PairMessage
	if req.Step > 1 {
		msgs, err := o.openBound(req.Inbound, wire.EnvPairSetup, k.keyID, ctx, uint16(req.Step-1))
		if err != nil {
			return nil, err
		}
		if len(msgs) != 1 || msgs[0].from != peerID || !msgs[0].direct {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "pair setup expects one message from the peer"}
		}
		in = new(tecdsa.PairMessage)
		if err := in.UnmarshalBinary(msgs[0].data); err != nil {
			return nil, culprit(peerID, "pair setup", err)
		}
	}
	switch {
	case req.Step == 1:
		share, _ := k.ecdsaState()
		ps, err := tecdsa.NewPairSetup(tecdsa.PairConfig{Self: int(o.cfg.NodeID), Peer: int(peerID), KeyID: share.KeyID(), SessionID: ctx, Rand: rand.Reader})
		if err != nil {
			return nil, abortError(err)
		}
		msg, err := ps.Start()
		if err != nil {
			return nil, abortError(err)
		}
		run.ps = ps
		out.add(peerID, msg, msg.Confidential())
	case req.Step <= 5:
		msg, err := run.ps.Next(in)
		if err != nil {
			return nil, abortError(err)
		}
		out.add(peerID, msg, msg.Confidential())
	default:
		res, err := run.ps.Finish(in)
		if err != nil {
			return nil, abortError(err)
		}
		share, signer := k.ecdsaState()
		if err := share.InstallPair(res); err != nil {
			return nil, abortError(err)
		}
		pid := res.ID()
		lifted := !signer.Banned(int(peerID))
		o.log.Info("pairwise ECDSA setup installed", "peer", peerID, "pair_id", hex.EncodeToString(pid[:]), "peer_allowed", lifted)
		return out.response(pid[:])
	}
	return out.response(nil)
}
