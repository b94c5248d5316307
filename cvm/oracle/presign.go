package oracle

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
	"golang.org/x/crypto/cryptobyte"
)

// Limits on what a coordinator can create in an oracle through presigning
// and pair-setup relays (docs/cluster.md, "Limits"). A relay beyond them is
// refused with wire.CodeBusy.
const (
	// MaxPresignRuns bounds the presigning relay sessions in progress. It
	// is above the concurrency an honest coordinator reaches (at 32
	// concurrent requests every session may refill its set inline, besides
	// the background pool), so that the bound only stops a flood.
	MaxPresignRuns = 64
	// PresignRunMaxAge is how long a presigning relay session may take
	// from step 1 to step 3; older runs are dropped.
	PresignRunMaxAge = time.Minute
	// MaxPairRuns bounds the pair setups in progress.
	MaxPairRuns = 8
	// PairRunMaxAge is how long a pair setup may take from step 1 to 6.
	PairRunMaxAge = 2 * time.Minute
	// MaxPresignatures bounds the finished, unused presignatures; each
	// expires PresignatureMaxAge after it was made.
	MaxPresignatures   = 256
	PresignatureMaxAge = 10 * time.Minute
	// MaxPresignSessionIDs bounds the presigning session ids remembered to
	// refuse their reuse; each is remembered for PresignRunMaxAge +
	// PresignatureMaxAge.
	MaxPresignSessionIDs = 1 << 14
)

// relayContextLabel separates relay contexts from every other hash.
const relayContextLabel = "CC-TSA relay context v1"

// relayContext is the envelope session id of a presigning, pair-setup or
// share-refresh relay session: a domain-separated, length-prefixed hash of
// the protocol, the relay session id, the full relay parameters (signer set
// and batch size, the pair, or the members), the current membership's
// digest (epochID: the cluster, epoch and every member's attested identity
// keys) and the ECDSA sharing the protocol computes with
// (tecdsa.KeyShare.SharingDigest; zero for a pair setup). The step is the
// envelope round. Two nodes that a relay gives different parameters, that
// are in different memberships, or that hold shares of different sharings
// (one missed a refresh's commit), compute different contexts, so each
// refuses the other's envelopes before any check that could blame anyone.
// (A replaced node that is still down stays in the membership under its old
// identity until it is replaced, so survivors and a replacement agree.)
func (o *Oracle) relayContext(proto wire.Protocol, sid [32]byte, params []byte, sharing [32]byte, participants []uint8) ([32]byte, error) {
	o.mu.Lock()
	for _, id := range participants {
		if _, ok := o.peers[id]; !ok && id != o.cfg.NodeID {
			o.mu.Unlock()
			return [32]byte{}, &wire.Error{Code: wire.CodeNotReady, Message: fmt.Sprintf("no identity key for node %d", id)}
		}
	}
	membership := o.epoch
	o.mu.Unlock()
	h := sha256.New()
	var b [2]byte
	binary.BigEndian.PutUint16(b[:], uint16(len(relayContextLabel)))
	h.Write(b[:])
	h.Write([]byte(relayContextLabel))
	h.Write([]byte{byte(proto)})
	h.Write(sid[:])
	binary.BigEndian.PutUint16(b[:], uint16(len(params)))
	h.Write(b[:])
	h.Write(params)
	h.Write(membership[:])
	h.Write(sharing[:])
	return [32]byte(h.Sum(nil)), nil
}

// openBound opens the inbound envelopes of one relay step whose envelopes
// are bound to ctx. An envelope whose header names another kind, key,
// context or round is refused first, naming no culprit: a relay that gives
// the nodes different parameters, or replays or reorders steps, causes it.
func (o *Oracle) openBound(raw [][]byte, kind uint8, keyID, ctx [32]byte, round uint16) ([]inbound, error) {
	for _, r := range raw {
		var e peer.Envelope
		if err := e.Unmarshal(r); err != nil {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "envelope: " + err.Error()}
		}
		if e.Kind != kind || e.KeyID != keyID || e.Session != ctx || e.Round != round {
			return nil, &wire.Error{Code: wire.CodeUnauthenticated, Message: fmt.Sprintf("envelope from node %d belongs to another relay context or step (round %d, want %d): the nodes were given different parameters, epochs or steps; no culprit", e.Sender, e.Round, round)}
		}
	}
	return o.openInbound(raw, kind, keyID, ctx, round)
}

// presignState is the protocol state of one presigning relay session (a
// runTable entry): its signer set, batch size and DKLs23 sessions.
type presignState struct {
	set    []int
	n      int
	signer *tecdsa.Signer // the Signer of the sharing the run started on
	ss     []*tecdsa.PresignSession
}

func (st *presignState) abort() {
	for _, ps := range st.ss {
		if ps != nil {
			ps.Abort()
		}
	}
}

// pruneRunsLocked drops idle runs older than PresignRunMaxAge and
// presignatures that are used or expired.
func (k *thresholdKeys) pruneRunsLocked() {
	k.runs.pruneLocked(k.now())
	k.prunePresigsLocked()
}

// prunePresigsLocked drops presignatures that are used or expired.
func (k *thresholdKeys) prunePresigsLocked() {
	for id, e := range k.presigs {
		if !e.ps.Usable() {
			delete(k.presigs, id)
		}
	}
}

// presignStep runs one step of an ECDSA presigning relay session among a
// signer set. One relay session makes a batch of presignatures (params:
// the signer set, then the count): presignature i runs DKLs23 with session
// id wire.PresignBatchID(sid, i), and each step sends one envelope per peer
// carrying that peer's message of every presignature in the batch, so the
// envelopes, their signatures and the relay round trips are shared. The
// envelopes are bound to the relay context (relayContext), and each step of
// a session runs at most once, in order.
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
	if req.Step < 1 || req.Step > 3 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "presigning has three steps"}
	}
	share, _ := k.ecdsaState()
	ctx, err := o.relayContext(wire.ProtoECDSAPresign, req.Session, req.Params, share.SharingDigest(), req.Params[:len(req.Params)-1])
	if err != nil {
		return nil, err
	}
	id := wire.PresignID(req.Session)
	k.mu.Lock()
	k.prunePresigsLocked()
	run, err := k.runs.claimLocked(id, req.Step, ctx, k.now())
	if err == nil && req.Step == 1 {
		run.state.set, run.state.n, run.state.signer = set, n, k.signer
	}
	k.mu.Unlock()
	if err != nil {
		return nil, err
	}
	resp, err := o.presignRunStep(k, &run.state, req, ctx)
	k.mu.Lock()
	k.runs.releaseLocked(id, run, req.Step, err == nil)
	k.mu.Unlock()
	return resp, err
}

// presignRunStep computes a claimed step of run.
func (o *Oracle) presignRunStep(k *thresholdKeys, run *presignState, req *wire.RelayRequest, ctx [32]byte) (*wire.RelayResponse, error) {
	n := run.n
	out := &outbox{o: o, kind: envECDSAPresign, keyID: k.keyID, sid: ctx, round: uint16(req.Step)}
	var in []inbound
	if req.Step > 1 {
		var err error
		if in, err = o.openBound(req.Inbound, envECDSAPresign, k.keyID, ctx, uint16(req.Step-1)); err != nil {
			return nil, err
		}
		if err := o.checkSenders(in, run.set); err != nil {
			return nil, err
		}
	}
	switch req.Step {
	case 1:
		run.ss = make([]*tecdsa.PresignSession, n)
		r1 := make([][]*tecdsa.PresignRound1, n)
		for i := range run.ss {
			var err error
			if run.ss[i], err = run.signer.NewPresign([32]byte(wire.PresignBatchID(req.Session, i)), run.set); err != nil {
				return nil, presignError(err)
			}
			if r1[i], err = run.ss[i].Round1(); err != nil {
				return nil, presignError(err)
			}
		}
		addBatch(out, r1, func(m *tecdsa.PresignRound1) int { return m.To })
	case 2:
		r1, err := decodeBatch[tecdsa.PresignRound1](in, n)
		if err != nil {
			return nil, err
		}
		r2 := make([][]*tecdsa.PresignRound2, n)
		for i, ps := range run.ss {
			if r2[i], err = ps.Round2(r1[i]); err != nil {
				o.logBan(err, req)
				return nil, presignError(err)
			}
		}
		addBatch(out, r2, func(m *tecdsa.PresignRound2) int { return m.To })
	case 3:
		r2, err := decodeBatch[tecdsa.PresignRound2](in, n)
		if err != nil {
			return nil, err
		}
		sigs := make([]*tecdsa.Presignature, n)
		for i, ps := range run.ss {
			if sigs[i], err = ps.Finalize(r2[i]); err != nil {
				o.logBan(err, req)
				return nil, presignError(err)
			}
		}
		k.mu.Lock()
		for i, sig := range sigs {
			k.presigs[wire.PresignBatchID(req.Session, i)] = &presigEntry{ps: sig, signers: run.set}
		}
		k.mu.Unlock()
	}
	return out.response(nil)
}

// checkSenders checks that in is exactly one direct message from every
// other member of set. Anything else is the relay's doing (it chooses what
// to deliver), so the refusal names no culprit.
func (o *Oracle) checkSenders(in []inbound, set []int) error {
	got := map[uint8]int{}
	for _, m := range in {
		if !m.direct || !slices.Contains(set, int(m.from)) {
			return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("unexpected presigning message from node %d", m.from)}
		}
		got[m.from]++
	}
	for _, j := range set {
		if uint8(j) != o.cfg.NodeID && got[uint8(j)] != 1 {
			return &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%d presigning messages from node %d, want 1", got[uint8(j)], j)}
		}
	}
	return nil
}

// presignError maps a presigning failure to a refusal: a bound reached is
// CodeBusy; a context mismatch names no culprit.
func presignError(err error) error {
	if errors.Is(err, tecdsa.ErrBusy) || errors.Is(err, tecdsa.ErrPoolFull) {
		return &wire.Error{Code: wire.CodeBusy, Message: err.Error()}
	}
	return abortError(err)
}

// logBan logs, at Error level and with the evidence, a ban that a
// presigning failure caused: the culprit, the reason and the SHA-256 of
// the culprit's envelope (signed by it) whose check failed.
func (o *Oracle) logBan(err error, req *wire.RelayRequest) {
	var ae *tecdsa.AbortError
	if !errors.As(err, &ae) || !ae.Ban {
		return
	}
	var evidence []byte
	for _, raw := range req.Inbound {
		var e peer.Envelope
		if e.Unmarshal(raw) == nil && int(e.Sender) == ae.Culprit && e.Receiver == o.cfg.NodeID {
			h := sha256.Sum256(raw)
			evidence = h[:]
		}
	}
	o.log.Error("ECDSA party banned: its authenticated presigning message failed an OT-extension or RVOLE check",
		"party", ae.Culprit, "session", hex.EncodeToString(req.Session[:]), "step", req.Step,
		"reason", ae.Error(), "envelope_sha256", hex.EncodeToString(evidence))
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
