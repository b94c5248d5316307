package oracle

import (
	"crypto/rand"
	"fmt"
	"slices"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
	"golang.org/x/crypto/cryptobyte"
)

type confidentialMsg interface {
	binaryMarshaler
	Confidential() bool
}

func addDirect[T confidentialMsg](out *outbox, msgs []T, to func(T) int) {
	for _, m := range msgs {
		out.add(uint8(to(m)), m, m.Confidential())
	}
}

// decodeInbound decodes the payloads of in that match direct into fresh
// messages.
func decodeInbound[T any, PT interface {
	*T
	UnmarshalBinary([]byte) error
}](in []inbound, direct bool) ([]*T, error) {
	var out []*T
	for _, m := range in {
		if m.direct != direct {
			continue
		}
		x := PT(new(T))
		if err := x.UnmarshalBinary(m.data); err != nil {
			return nil, culprit(m.from, "ECDSA message", err)
		}
		out = append(out, (*T)(x))
	}
	return out, nil
}

func (o *Oracle) ecdsaDKGStep(c *ceremony, req *wire.RelayRequest) (*wire.RelayResponse, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if o.cfg.Nodes != tecdsa.Parties || o.cfg.Threshold != tecdsa.Threshold {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("threshold ECDSA is %d-of-%d only", tecdsa.Threshold, tecdsa.Parties)}
	}
	o.mu.Lock()
	has := o.th != nil
	o.mu.Unlock()
	if has || c.ecdsaShare != nil {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: "this oracle already holds an ECDSA key share"}
	}
	if req.Step == 1 {
		c.ecdsaSID, c.ecdsaStep, c.ecdsaDKG = req.Session, 0, nil
	}
	if req.Session != c.ecdsaSID || req.Step != c.ecdsaStep+1 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("ECDSA DKG step %d is not expected (at step %d)", req.Step, c.ecdsaStep)}
	}
	if req.Step > 1 && c.ecdsaDKG == nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "no ECDSA key generation in progress (it was aborted): start again at step 1"}
	}
	epoch := o.epochID()
	out := &outbox{o: o, kind: envECDSADKG, keyID: epoch, sid: req.Session, round: uint16(req.Step)}
	var in []inbound
	if req.Step > 1 {
		var err error
		if in, err = o.openInbound(req.Inbound, envECDSADKG, epoch, req.Session, uint16(req.Step-1)); err != nil {
			c.ecdsaDKG = nil
			return nil, err
		}
		// Steps 2 to 4 take a broadcast and a direct message from every
		// other node, steps 5 and 6 a direct message.
		if err := o.checkFromEveryMember(in, "ECDSA DKG", req.Step <= 4, true); err != nil {
			c.ecdsaDKG = nil
			return nil, err
		}
	}
	var result []byte
	err := func() error {
		d := c.ecdsaDKG
		switch req.Step {
		case 1:
			nd, err := tecdsa.NewDKG(tecdsa.DKGConfig{Self: int(o.cfg.NodeID), SessionID: req.Session, Rand: rand.Reader})
			if err != nil {
				return err
			}
			c.ecdsaDKG = nd
			bc, dm, err := nd.Round1()
			if err != nil {
				return err
			}
			out.add(peer.Broadcast, bc, false)
			addDirect(out, dm, func(m *tecdsa.DKGRound1Direct) int { return m.To })
		case 2:
			bcs, err := decodeInbound[tecdsa.DKGRound1Broadcast](in, false)
			if err != nil {
				return err
			}
			dms, err := decodeInbound[tecdsa.DKGRound1Direct](in, true)
			if err != nil {
				return err
			}
			bc, dm, err := d.Round2(bcs, dms)
			if err != nil {
				return err
			}
			out.add(peer.Broadcast, bc, false)
			addDirect(out, dm, func(m *tecdsa.DKGRound2Direct) int { return m.To })
		case 3:
			bcs, err := decodeInbound[tecdsa.DKGRound2Broadcast](in, false)
			if err != nil {
				return err
			}
			dms, err := decodeInbound[tecdsa.DKGRound2Direct](in, true)
			if err != nil {
				return err
			}
			bc, dm, err := d.Round3(bcs, dms)
			if err != nil {
				return err
			}
			out.add(peer.Broadcast, bc, false)
			addDirect(out, dm, func(m *tecdsa.DKGOTDirect) int { return m.To })
		case 4:
			bcs, err := decodeInbound[tecdsa.DKGRound3Broadcast](in, false)
			if err != nil {
				return err
			}
			dms, err := decodeInbound[tecdsa.DKGOTDirect](in, true)
			if err != nil {
				return err
			}
			dm, err := d.Round4(bcs, dms)
			if err != nil {
				return err
			}
			addDirect(out, dm, func(m *tecdsa.DKGOTDirect) int { return m.To })
		case 5:
			dms, err := decodeInbound[tecdsa.DKGOTDirect](in, true)
			if err != nil {
				return err
			}
			dm, err := d.Round5(dms)
			if err != nil {
				return err
			}
			addDirect(out, dm, func(m *tecdsa.DKGOTDirect) int { return m.To })
		case 6:
			dms, err := decodeInbound[tecdsa.DKGOTDirect](in, true)
			if err != nil {
				return err
			}
			ks, err := d.Finish(dms)
			if err != nil {
				return err
			}
			c.ecdsaShare, c.ecdsaDKG = ks, nil
			id := ks.KeyID()
			result = append(ks.PublicKeyBytes(), id[:]...)
			o.log.Info("ECDSA P-384 distributed key generation complete (key not yet confirmed)")
			return o.installKeys(c)
		default:
			return &wire.Error{Code: wire.CodeBadRequest, Message: "ECDSA DKG has six steps"}
		}
		return nil
	}()
	if err != nil {
		c.ecdsaDKG = nil
		o.log.Warn("ECDSA DKG aborted", "step", req.Step, "err", err)
		return nil, abortError(err)
	}
	c.ecdsaStep = req.Step
	return out.response(result)
}

// parseSignerSet decodes a relay parameter holding a signer set (one byte
// per node id, ascending) and checks it includes this oracle.
func (o *Oracle) parseSignerSet(p []byte) ([]int, error) {
	if len(p) != int(o.cfg.Threshold) || !slices.IsSorted(p) || !slices.Contains(p, o.cfg.NodeID) {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("signer set %v", p)}
	}
	for i, id := range p {
		if id == 0 || id > o.cfg.Nodes || (i > 0 && p[i-1] == id) {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("signer set %v", p)}
		}
	}
	return ecdsaSet(p), nil
}

func (o *Oracle) keys() (*thresholdKeys, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.th == nil {
		return nil, &wire.Error{Code: wire.CodeNotReady, Message: "no threshold keys"}
	}
	return o.th, nil
}

// confirmStep signs one key-confirmation digest (step 1, on a presignature
// of the signer set) or checks all ten confirmation signatures and marks
// the ECDSA key confirmed (step 2).
func (o *Oracle) confirmStep(req *wire.RelayRequest) (*wire.RelayResponse, error) {
	k, err := o.keys()
	if err != nil {
		return nil, err
	}
	switch req.Step {
	case 1:
		set, err := o.parseSignerSet(req.Params)
		if err != nil {
			return nil, err
		}
		ps, err := k.takePresignature(wire.PresignID(req.Session), set)
		if err != nil {
			return nil, err
		}
		es, _ := k.ecdsaState()
		keyID := es.KeyID()
		share, err := tecdsa.Sign(ps, tecdsa.ConfirmationDigest(keyID, set))
		if err != nil {
			return nil, abortError(err)
		}
		out := &outbox{o: o, kind: envECDSAConfirm, keyID: k.keyID, sid: req.Session, round: 1}
		out.add(peer.Broadcast, share, false)
		return out.response(keyID[:])
	case 2:
		in := cryptobyte.String(req.Params)
		var sigs [][]byte
		for !in.Empty() {
			var s cryptobyte.String
			if !in.ReadUint16LengthPrefixed(&s) {
				return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "malformed confirmation signatures"}
			}
			sigs = append(sigs, []byte(s))
		}
		es, _ := k.ecdsaState()
		if err := es.ConfirmKey(sigs); err != nil {
			return nil, abortError(err)
		}
		k.mu.Lock()
		k.confirmSigs = sigs
		k.mu.Unlock()
		o.log.Info("ECDSA key confirmed by all signer subsets")
		return &wire.RelayResponse{}, nil
	}
	return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "confirmation has two steps"}
}
