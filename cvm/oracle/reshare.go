package oracle

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
	"golang.org/x/crypto/cryptobyte"
)

// reshareStep hands a replacement node its shares. Params: the target's
// node id, then the Threshold helper ids (ascending). In step 1 every
// helper sends the target, encrypted to its attested key, the ML-DSA
// subset secrets the target belongs to and its ECDSA re-sharing
// contribution; in step 2 the target assembles and checks its shares. The
// public keys do not change.
//
// No secret leaves a helper unless the target index's identity joined the
// membership in the current epoch through the membership protocol (which
// checked that identity's freshness and attestation), and every envelope
// binds the current membership's digest, so helpers and target agree on
// who holds which index.
func (o *Oracle) reshareStep(c *ceremony, req *wire.RelayRequest) (*wire.RelayResponse, error) {
	if len(req.Params) != 1+int(o.cfg.Threshold) {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "re-share parameters"}
	}
	target, helpers := req.Params[0], req.Params[1:]
	if target == 0 || target > o.cfg.Nodes || slices.Contains(helpers, target) || !slices.IsSorted(helpers) {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("re-share of node %d by %v", target, helpers)}
	}
	epoch := o.epochID()
	out := &outbox{o: o, kind: wire.EnvReshare, keyID: epoch, sid: req.Session, round: uint16(req.Step)}
	self := o.cfg.NodeID
	if err := o.joinedThisEpoch(target); err != nil {
		return nil, err
	}
	switch {
	case req.Step == 1 && self == target:
		o.mu.Lock()
		has := o.th != nil
		o.mu.Unlock()
		if has {
			return nil, &wire.Error{Code: wire.CodeRefused, Message: "this oracle already holds keys"}
		}
		return out.response(nil)
	case req.Step == 1 && slices.Contains(helpers, self):
		k, err := o.keys()
		if err != nil {
			return nil, err
		}
		secrets, err := k.mldsa.SubsetSecretsFor(int(target) - 1)
		if err != nil {
			return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
		}
		es, _ := k.ecdsaState()
		contrib, err := es.ReshareContribution(req.Session, int(target), ecdsaSet(helpers))
		if err != nil {
			return nil, abortError(err)
		}
		cb, err := contrib.MarshalBinary()
		if err != nil {
			return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
		}
		var b cryptobyte.Builder
		b.AddBytes(k.mldsaPub)
		b.AddUint8(uint8(len(secrets)))
		for i := range secrets {
			b.AddUint8(secrets[i].Mask)
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(secrets[i].Secret) })
			secrets[i].Zeroize()
		}
		b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(cb) })
		k.mu.Lock()
		sigs := k.confirmSigs
		k.mu.Unlock()
		b.AddUint8(uint8(len(sigs)))
		for _, sg := range sigs {
			b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sg) })
		}
		payload, err := b.Bytes()
		if err != nil {
			return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
		}
		out.add(target, rawMsg(payload), true)
		resp, err := out.response(nil)
		clear(payload)
		o.log.Info("re-share contribution sent", "target", target)
		return resp, err
	case req.Step == 2 && self == target:
		c.mu.Lock()
		defer c.mu.Unlock()
		in, err := o.openInbound(req.Inbound, wire.EnvReshare, epoch, req.Session, 1)
		if err != nil {
			return nil, err
		}
		if len(in) != len(helpers) {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%d contributions from %d helpers", len(in), len(helpers))}
		}
		var pk []byte
		var confirm [][]byte
		var secrets []mldsa.SubsetSecret
		var contribs []*tecdsa.ReshareContribution
		defer func() {
			for i := range secrets {
				secrets[i].Zeroize()
			}
		}()
		for _, m := range in {
			if !m.direct || !slices.Contains(helpers, m.from) {
				return nil, culprit(m.from, "re-share", fmt.Errorf("unexpected message"))
			}
			s := cryptobyte.String(m.data)
			var p []byte
			var count uint8
			if !s.ReadBytes(&p, mldsa.PublicKeySize) || !s.ReadUint8(&count) {
				return nil, culprit(m.from, "re-share", fmt.Errorf("malformed"))
			}
			if pk != nil && !bytes.Equal(pk, p) {
				return nil, culprit(m.from, "re-share", fmt.Errorf("helpers disagree on the ML-DSA public key"))
			}
			pk = bytes.Clone(p)
			for i := 0; i < int(count); i++ {
				var mask uint8
				var sec cryptobyte.String
				if !s.ReadUint8(&mask) || !s.ReadUint16LengthPrefixed(&sec) {
					return nil, culprit(m.from, "re-share", fmt.Errorf("malformed subset secret"))
				}
				secrets = append(secrets, mldsa.SubsetSecret{Mask: mask, Secret: bytes.Clone(sec)})
			}
			var cb cryptobyte.String
			var nsigs uint8
			if !s.ReadUint16LengthPrefixed(&cb) || !s.ReadUint8(&nsigs) {
				return nil, culprit(m.from, "re-share", fmt.Errorf("malformed contribution"))
			}
			var sigs [][]byte
			for i := 0; i < int(nsigs); i++ {
				var sg cryptobyte.String
				if !s.ReadUint16LengthPrefixed(&sg) {
					return nil, culprit(m.from, "re-share", fmt.Errorf("malformed confirmation signatures"))
				}
				sigs = append(sigs, bytes.Clone(sg))
			}
			if !s.Empty() {
				return nil, culprit(m.from, "re-share", fmt.Errorf("trailing bytes"))
			}
			if confirm == nil {
				confirm = sigs
			}
			contrib := new(tecdsa.ReshareContribution)
			if err := contrib.UnmarshalBinary(cb); err != nil {
				return nil, culprit(m.from, "re-share", err)
			}
			contribs = append(contribs, contrib)
			clear(m.data)
		}
		mpk, err := mldsa.ParsePublicKey(pk)
		if err != nil {
			return nil, &wire.Error{Code: wire.CodeRefused, Message: err.Error()}
		}
		ms, err := mldsa.AssembleShare(mpk, int(o.cfg.Threshold), int(o.cfg.Nodes), int(self)-1, secrets)
		if err != nil {
			return nil, &wire.Error{Code: wire.CodeRefused, Message: "assembling the ML-DSA share: " + err.Error()}
		}
		o.mu.Lock()
		floor := o.ms.usedFloor
		o.mu.Unlock()
		// The session count travels with the change: the new share starts
		// at the highest count its endorsers reported.
		ms.RestoreSessionCount(floor)
		es, err := tecdsa.NewReplacementShare(int(self), contribs)
		if err != nil {
			ms.Zeroize()
			return nil, abortError(err)
		}
		// The ceremony's confirmation signatures are public and verified
		// against the (unchanged) public key; the new pairwise setups are
		// exercised by the coordinator before the node signs tokens.
		if err := es.ConfirmKey(confirm); err != nil {
			ms.Zeroize()
			es.Zeroize()
			return nil, &wire.Error{Code: wire.CodeRefused, Message: "helpers' key-confirmation signatures: " + err.Error()}
		}
		c.mldsaShare, c.ecdsaShare = ms, es
		if err := o.installKeys(c); err != nil {
			return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
		}
		o.mu.Lock()
		th := o.th
		o.mu.Unlock()
		th.mu.Lock()
		th.confirmSigs = confirm
		th.mu.Unlock()
		o.log.Info("replacement shares assembled; pairwise ECDSA setups follow")
		return out.response(append(bytes.Clone(pk), es.PublicKeyBytes()...))
	case req.Step == 2 && slices.Contains(helpers, self):
		return out.response(nil)
	}
	return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("re-share step %d for node %d", req.Step, self)}
}

// joinedThisEpoch checks that node index target's identity became a member
// in the current epoch, by a membership change.
func (o *Oracle) joinedThisEpoch(target uint8) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	m := o.ms.current
	if m == nil || m.Epoch == 0 || target == 0 || target > wire.MaxSigners || o.ms.joined[target] != m.Epoch {
		return &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("node %d did not join in this epoch: shares go only to an identity the membership protocol admitted", target)}
	}
	return nil
}
