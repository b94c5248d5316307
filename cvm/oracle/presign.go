package oracle

import (
	"fmt"

	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
	"golang.org/x/crypto/cryptobyte"
)

// presignStep runs one step of an ECDSA presigning relay session among a
// signer set. One relay session makes a batch of presignatures (params:
// the signer set, then the count): presignature i runs DKLs23 with session
// id wire.PresignBatchID(sid, i), and each step sends one envelope per peer
// carrying that peer's message of every presignature in the batch, so the
// envelopes, their signatures and the relay round trips are shared.
func (o *Oracle) presignStep(req *wire.RelayRequest) (*wire.RelayResponse, error) {
	k, err := o.keys()
	if err != nil {
		return nil, err
	}
	if len(req.Params) == 0 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "presigning needs a signer set and a count"}
	}
	n := int(req.Params[len(req.Params)-1])
	if n < 1 || n > wire.MaxPresignBatch {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("presignature batch of %d (1 to %d)", n, wire.MaxPresignBatch)}
	}
	set, err := o.parseSignerSet(req.Params[:len(req.Params)-1])
	if err != nil {
		return nil, err
	}
	id := wire.PresignID(req.Session)
	out := &outbox{o: o, kind: envECDSAPresign, keyID: k.keyID, sid: req.Session, round: uint16(req.Step)}
	var in []inbound
	if req.Step > 1 {
		if in, err = o.openInbound(req.Inbound, envECDSAPresign, k.keyID, req.Session, uint16(req.Step-1)); err != nil {
			k.dropRun(id)
			return nil, err
		}
	}
	fail := func(err error) (*wire.RelayResponse, error) {
		k.dropRun(id)
		return nil, abortError(err)
	}
	switch req.Step {
	case 1:
		runs := make([]*tecdsa.PresignSession, n)
		r1 := make([][]*tecdsa.PresignRound1, n)
		for i := range runs {
			if runs[i], err = k.signer.NewPresign([32]byte(wire.PresignBatchID(req.Session, i)), set); err != nil {
				return nil, abortError(err)
			}
			if r1[i], err = runs[i].Round1(); err != nil {
				return nil, abortError(err)
			}
		}
		k.mu.Lock()
		if _, dup := k.runs[id]; dup {
			k.mu.Unlock()
			return nil, &wire.Error{Code: wire.CodeRefused, Message: "presigning session id is in use"}
		}
		k.runs[id] = runs
		k.mu.Unlock()
		addBatch(out, r1, func(m *tecdsa.PresignRound1) int { return m.To })
	case 2:
		runs := k.run(id, false)
		if len(runs) != n {
			return nil, &wire.Error{Code: wire.CodeUnknownSession, Message: "no such presigning session"}
		}
		r1, err := decodeBatch[tecdsa.PresignRound1](in, n)
		if err != nil {
			return fail(err)
		}
		r2 := make([][]*tecdsa.PresignRound2, n)
		for i, ps := range runs {
			if r2[i], err = ps.Round2(r1[i]); err != nil {
				return fail(err)
			}
		}
		addBatch(out, r2, func(m *tecdsa.PresignRound2) int { return m.To })
	case 3:
		runs := k.run(id, true)
		if len(runs) != n {
			return nil, &wire.Error{Code: wire.CodeUnknownSession, Message: "no such presigning session"}
		}
		r2, err := decodeBatch[tecdsa.PresignRound2](in, n)
		if err != nil {
			return nil, abortError(err)
		}
		sigs := make([]*tecdsa.Presignature, n)
		for i, ps := range runs {
			if sigs[i], err = ps.Finalize(r2[i]); err != nil {
				return nil, abortError(err)
			}
		}
		k.mu.Lock()
		for i, sig := range sigs {
			k.presigs[wire.PresignBatchID(req.Session, i)] = &presigEntry{ps: sig, signers: set}
		}
		k.mu.Unlock()
	default:
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "presigning has three steps"}
	}
	return out.response(nil)
}

// batchMsg is the messages of every presignature of a batch for one peer,
// encoded as a count and u24-length-prefixed messages.
type batchMsg[T confidentialMsg] []T

func (b batchMsg[T]) MarshalBinary() ([]byte, error) {
	var out cryptobyte.Builder
	out.AddUint8(uint8(len(b)))
	for _, m := range b {
		p, err := m.MarshalBinary()
		if err != nil {
			return nil, err
		}
		out.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p) })
	}
	return out.Bytes()
}

// addBatch seals, for every peer, one envelope with that peer's message of
// each presignature (msgs[i] are presignature i's messages, one per peer).
func addBatch[T confidentialMsg](out *outbox, msgs [][]T, to func(T) int) {
	byPeer := map[int]batchMsg[T]{}
	var order []int
	for _, ms := range msgs {
		for _, m := range ms {
			p := to(m)
			if _, ok := byPeer[p]; !ok {
				order = append(order, p)
			}
			byPeer[p] = append(byPeer[p], m)
		}
	}
	for _, p := range order {
		b := byPeer[p]
		if len(b) != len(msgs) {
			out.err = fmt.Errorf("presignature batch: %d messages for node %d, want %d", len(b), p, len(msgs))
			return
		}
		confidential := false
		for _, m := range b {
			confidential = confidential || m.Confidential()
		}
		out.add(uint8(p), b, confidential)
	}
}

// decodeBatch splits every direct inbound batch into its n messages: out[i]
// are presignature i's messages from every peer. A batch of another size,
// a malformed message or trailing bytes is the sender's fault.
func decodeBatch[T any, PT interface {
	*T
	UnmarshalBinary([]byte) error
}](in []inbound, n int) ([][]*T, error) {
	out := make([][]*T, n)
	for _, m := range in {
		if !m.direct {
			continue
		}
		s := cryptobyte.String(m.data)
		var count uint8
		if !s.ReadUint8(&count) || int(count) != n {
			return nil, culprit(m.from, "presignature batch", fmt.Errorf("batch of %d messages, want %d", count, n))
		}
		for i := 0; i < n; i++ {
			var p cryptobyte.String
			if !s.ReadUint24LengthPrefixed(&p) {
				return nil, culprit(m.from, "presignature batch", fmt.Errorf("message %d truncated", i))
			}
			x := PT(new(T))
			if err := x.UnmarshalBinary(p); err != nil {
				return nil, culprit(m.from, "ECDSA message", err)
			}
			out[i] = append(out[i], (*T)(x))
		}
		if !s.Empty() {
			return nil, culprit(m.from, "presignature batch", fmt.Errorf("trailing bytes"))
		}
	}
	return out, nil
}
