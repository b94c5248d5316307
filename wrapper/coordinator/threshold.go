package coordinator

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
	"github.com/cc-tsa/cc-tsa/wrapper/token"
	"github.com/cc-tsa/cc-tsa/wrapper/tsverify"
)

// MaxAttempts bounds the ML-DSA attempts of one session (each succeeds with
// probability at least 1/2); it matches the oracles' bound.
const MaxAttempts = 24

// thresholdSession issues one token with the signer set.
func (c *Coordinator) thresholdSession(ctx context.Context, set []*Node, f *wire.TokenFields) (*Issued, error) {
	signers := ids(set)
	t := time.Now()
	var presign wire.PresignID
	if f.Policy == wire.PolicyHybrid {
		var err error
		presign, err = c.pool.take(ctx, set)
		c.stats.lap(StagePresign, &t)
		if err != nil {
			return nil, err
		}
	}
	leader := set[int(c.next.Load())%len(set)]
	proposed := time.Now()
	prop, err := leader.Client.Propose(ctx, &wire.ProposeRequest{Signers: signers, Fields: *f})
	c.stats.lap(StagePropose, &t)
	if err != nil {
		return nil, &NodeError{Node: leader.ID(), Err: fmt.Errorf("propose: %w", err)}
	}
	var sid wire.SessionID
	rand.Read(sid[:])
	ended := false
	defer func() {
		if !ended {
			endSession(set, sid)
		}
	}()
	begins, errs := parallelAll(set, func(n *Node) (*wire.BeginResponse, error) {
		return n.Client.Begin(ctx, &wire.BeginRequest{Session: sid, Signers: signers, Fields: *f, Proposal: *prop, Presign: presign})
	})
	c.stats.lap(StageBegin, &t)
	if err := lateBegin(errs, time.Since(proposed)); err != nil {
		return nil, err
	}
	if err := beginBlame(set, leader, errs); err != nil {
		return nil, err
	}
	for i, b := range begins[1:] {
		if !bytes.Equal(b.TSTInfo, begins[0].TSTInfo) || !bytes.Equal(b.MLDSASignedAttrs, begins[0].MLDSASignedAttrs) {
			return nil, &NodeError{Node: set[i+1].ID(), Err: errors.New("encoded a different TSTInfo")}
		}
	}
	tstInfo, attrs := begins[0].TSTInfo, begins[0].MLDSASignedAttrs
	first := make([][]byte, len(set))
	for i, b := range begins {
		first[i] = b.Round1
	}
	sig, attempts, err := c.signMLDSA(ctx, set, sid, attrs, first)
	c.stats.lap(StageMLDSA, &t)
	if err != nil {
		return nil, err
	}
	attached, err := parallel(set, func(n *Node) (*wire.AttachResponse, error) {
		return n.Client.Attach(ctx, &wire.AttachRequest{Session: sid, MLDSASignature: sig})
	})
	c.stats.lap(StageAttach, &t)
	if err != nil {
		return nil, fmt.Errorf("attach: %w", err)
	}
	ended = true // each signer ends the session with its Attach
	for i, a := range attached[1:] {
		if !bytes.Equal(a.InnerToken, attached[0].InnerToken) || !bytes.Equal(a.ECDSASignedAttrs, attached[0].ECDSASignedAttrs) {
			return nil, &NodeError{Node: set[i+1].ID(), Err: errors.New("encoded a different inner token")}
		}
	}
	inner, ecdsaAttrs := attached[0].InnerToken, attached[0].ECDSASignedAttrs
	tok := inner
	if f.Policy == wire.PolicyHybrid {
		if ecdsaAttrs == nil {
			return nil, errors.New("coordinator: oracles returned no ECDSA signed attributes for a hybrid token")
		}
		esig, err := c.combineECDSA(set, sid, ecdsaAttrs, attached)
		c.stats.lap(StageECDSA, &t)
		if err != nil {
			return nil, err
		}
		tok, err = c.assembler.Hybrid(&token.Parts{TSTInfo: tstInfo, ECDSASignedAttrs: ecdsaAttrs, ECDSASignature: esig, InnerToken: inner}, f.CertReq)
		if err != nil {
			return nil, err
		}
	}
	res, err := tsverify.VerifyToken(tok, &c.verify)
	c.stats.lap(StageVerify, &t)
	if err != nil {
		return nil, fmt.Errorf("coordinator: token failed verification before release: %w", err)
	}
	return &Issued{Token: tok, TSTInfo: tstInfo, Info: res.Info, Signers: signers, Attempts: attempts}, nil
}

// beginBlame turns the signers' Begin errors into one error naming the
// node at fault. When every other signer refused the leader's proposal on
// its own clock, the leader is blamed; a lone refuser is blamed itself.
func beginBlame(set []*Node, leader *Node, errs []error) error {
	var refusers []int
	first := -1
	for i, err := range errs {
		if err == nil {
			continue
		}
		if first < 0 {
			first = i
		}
		var we *wire.Error
		if errors.As(err, &we) && we.Code == wire.CodeRefused && set[i] != leader {
			refusers = append(refusers, i)
		}
	}
	if first < 0 {
		return nil
	}
	if len(refusers) == len(set)-1 && len(set) > 2 && errs[slices.Index(set, leader)] == nil {
		return &NodeError{Node: leader.ID(), Err: fmt.Errorf("every other signer refused its proposal: %w", errs[refusers[0]])}
	}
	return &NodeError{Node: set[first].ID(), Err: fmt.Errorf("begin: %w", errs[first])}
}

func endSession(set []*Node, sid wire.SessionID) {
	for _, n := range set {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		n.Client.End(ctx, sid)
		cancel()
	}
}

// roundInbound lists the envelopes of one round as inbound messages, in
// node order.
func roundInbound(set []*Node, envs [][]byte) []wire.RoundMessage {
	in := make([]wire.RoundMessage, len(set))
	for i, n := range set {
		in[i] = wire.RoundMessage{From: n.ID(), Payload: envs[i]}
	}
	return in
}

// withoutOwn returns the inbound messages for node id: its own message is
// left empty (the oracle keeps what it sent), which saves relaying the
// largest messages, the 274 kB ML-DSA reveals, back to their senders.
func withoutOwn(in []wire.RoundMessage, id uint8) []wire.RoundMessage {
	out := slices.Clone(in)
	for i := range out {
		if out[i].From == id {
			out[i].Payload = nil
		}
	}
	return out
}

// decodeRound opens every node's envelope of one signing round and decodes
// the payloads.
func decodeRound[T any, PT interface {
	*T
	UnmarshalBinary([]byte) error
}](c *Coordinator, set []*Node, sid wire.SessionID, kind uint8, round uint16, envs [][]byte) ([]*T, error) {
	out := make([]*T, len(set))
	for i, n := range set {
		// The oracles authenticate these envelopes; the coordinator only
		// needs the payloads to combine (a forged one makes Combine fail).
		want := peer.Header{Kind: kind, KeyID: c.keyID, Session: wire.EnvelopeSession(sid), Round: round, Sender: n.ID(), Receiver: peer.Broadcast}
		p, err := peer.Decode(envs[i], want)
		if err != nil {
			return nil, &NodeError{Node: n.ID(), Err: err}
		}
		x := PT(new(T))
		if err := x.UnmarshalBinary(p); err != nil {
			return nil, &NodeError{Node: n.ID(), Err: err}
		}
		out[i] = (*T)(x)
	}
	return out, nil
}

func (c *Coordinator) countBytes(envs [][]byte, receivers int) {
	var n int
	for _, e := range envs {
		n += len(e)
	}
	c.stats.RelayedBytes.Add(uint64(n * receivers))
}

// MaxConcurrentAttempts is the most ML-DSA attempts of one session that may
// run at once (the oracles' bound); see Config.IdleAttempts.
const MaxConcurrentAttempts = 2

// signMLDSA relays ML-DSA attempts until one yields a signature, which
// Combine has verified.
func (c *Coordinator) signMLDSA(ctx context.Context, set []*Node, sid wire.SessionID, attrs []byte, first [][]byte) ([]byte, int, error) {
	mu, err := c.mldsaPub.Mu(attrs, nil)
	if err != nil {
		return nil, 0, err
	}
	width := 1
	if c.inflight.Load() <= 1 {
		width = max(1, c.cfg.IdleAttempts)
	}
	type result struct {
		sig []byte
		err error
	}
	// Up to width attempts run at once; when one fails without a usable
	// slot the next starts at once. The first to succeed cancels the rest.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	results := make(chan result, MaxAttempts)
	next, running := 0, 0
	startNext := func() {
		a := next
		var cmts [][]byte
		if a == 0 {
			cmts = first
		}
		next++
		running++
		go func() {
			sig, err := c.mldsaAttempt(ctx, set, sid, a, cmts, mu)
			results <- result{sig, err}
		}()
	}
	for next < width {
		startNext()
	}
	for running > 0 {
		r := <-results
		running--
		switch {
		case r.err == nil:
			return r.sig, next, nil
		case !errors.Is(r.err, mldsa.ErrNoValidSlot):
			return nil, next, r.err
		case next < MaxAttempts:
			startNext()
		}
	}
	return nil, next, fmt.Errorf("coordinator: no ML-DSA attempt succeeded in %d tries", MaxAttempts)
}

// mldsaAttempt runs ML-DSA attempt a (its commitment round first, unless
// the commitments are given) and combines it. It returns
// mldsa.ErrNoValidSlot when no slot of the attempt succeeded.
func (c *Coordinator) mldsaAttempt(ctx context.Context, set []*Node, sid wire.SessionID, a int, cmtEnvs [][]byte, mu [mldsa.MuSize]byte) ([]byte, error) {
	c.stats.MLDSAAttempts.Add(1)
	round := func(r uint8, in []wire.RoundMessage) ([][]byte, error) {
		resps, err := parallel(set, func(n *Node) (*wire.RoundResponse, error) {
			return n.Client.Round(ctx, &wire.RoundRequest{Session: sid, Scheme: wire.SchemeMLDSA65, Round: r, Inbound: withoutOwn(in, n.ID())})
		})
		if err != nil {
			return nil, fmt.Errorf("ML-DSA round %d: %w", r, err)
		}
		out := make([][]byte, len(resps))
		for i, rr := range resps {
			out[i] = rr.Payload
		}
		return out, nil
	}
	base := uint8(3 * a)
	var err error
	if cmtEnvs == nil {
		if cmtEnvs, err = round(base+1, nil); err != nil {
			return nil, err
		}
	}
	c.countBytes(cmtEnvs, len(set)-1)
	revEnvs, err := round(base+2, roundInbound(set, cmtEnvs))
	if err != nil {
		if unauthenticated(err) {
			err = c.blameCommitments(set, sid, base+1, cmtEnvs, err)
		}
		return nil, err
	}
	c.countBytes(revEnvs, len(set)-1)
	respEnvs, err := round(base+3, roundInbound(set, revEnvs))
	if err != nil {
		if unauthenticated(err) {
			err = c.blameReveals(set, sid, a, base+2, cmtEnvs, revEnvs, mu, err)
		}
		return nil, err
	}
	c.countBytes(respEnvs, 1)
	cmts, err := decodeRound[mldsa.Commitment](c, set, sid, wire.EnvMLDSASign, uint16(base+1), cmtEnvs)
	if err != nil {
		return nil, err
	}
	revs, err := decodeRound[mldsa.Reveal](c, set, sid, wire.EnvMLDSASign, uint16(base+2), revEnvs)
	if err != nil {
		return nil, err
	}
	resps, err := decodeRound[mldsa.Response](c, set, sid, wire.EnvMLDSASign, uint16(base+3), respEnvs)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err // another attempt already succeeded
	}
	zero := make([]int, len(set))
	for i, n := range set {
		zero[i] = int(n.ID()) - 1
	}
	cfg := mldsa.SessionConfig{SessionID: wire.MLDSAAttemptID(sid, c.keyID, a), Signers: zero, Mu: mu}
	// Every signer checked every reveal against its commitment in round 3
	// (and would have named a culprit), so a failed attempt needs no
	// second check here.
	sig, err := mldsa.CombineChecked(c.params, c.mldsaPub, cfg, cmts, revs, resps)
	if err != nil && !errors.Is(err, mldsa.ErrNoValidSlot) {
		var ae *mldsa.AbortError
		if errors.As(err, &ae) && ae.Culprit >= 0 {
			return nil, &NodeError{Node: uint8(ae.Culprit + 1), Err: err}
		}
		return nil, fmt.Errorf("ML-DSA combine: %w", err)
	}
	return sig, err
}

// combineECDSA combines the online ECDSA shares the signers returned with
// Attach; Combine verifies the signature.
func (c *Coordinator) combineECDSA(set []*Node, sid wire.SessionID, attrs []byte, attached []*wire.AttachResponse) ([]byte, error) {
	envs := make([][]byte, len(attached))
	for i, a := range attached {
		envs[i] = a.ECDSA
	}
	c.countBytes(envs, 1)
	shares, err := decodeRound[tecdsa.SignShare](c, set, sid, wire.EnvECDSASign, 1, envs)
	if err != nil {
		return nil, err
	}
	d := sha512.Sum384(attrs)
	sig, err := tecdsa.Combine(c.ecdsaPub, d[:], shares)
	if err != nil {
		var ae *tecdsa.AbortError
		if errors.As(err, &ae) && ae.Culprit > 0 {
			return nil, &NodeError{Node: uint8(ae.Culprit), Err: err}
		}
		return nil, fmt.Errorf("ECDSA combine: %w", err)
	}
	return sig, nil
}

// errLateProposal marks a session that failed only because a proposal
// reached a signer later than the leader's slack allowed: nobody is at
// fault, and the coordinator retries with a fresh proposal.
var errLateProposal = errors.New("coordinator: a proposal reached a signer too late")

// lateBegin returns errLateProposal if a signer refused its Begin as a late
// proposal by no more than elapsed, the time from sending Propose to the
// Begin answers (an honest signer then merely saw the proposal late). A
// larger gap is left to beginBlame: that signer's clock, or the leader's,
// is off.
func lateBegin(errs []error, elapsed time.Duration) error {
	for _, err := range errs {
		var we *wire.Error
		if err == nil || !errors.As(err, &we) {
			continue
		}
		if late, ok := wire.ParseLateProposal(we.Message); ok && late <= elapsed {
			return fmt.Errorf("%w: %v", errLateProposal, err)
		}
	}
	return nil
}
