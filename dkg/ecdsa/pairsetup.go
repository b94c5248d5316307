package ecdsa

import (
	"crypto/subtle"
	"fmt"
	"io"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/baseot"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// PairConfig configures a pairwise setup between two parties of an existing
// key, used when a replacement node joins at an index: both directions of
// base OTs (the OT-extension setups) and a fresh zero-share seed.
type PairConfig struct {
	Self, Peer int
	// KeyID is the key's identifier (KeyShare.KeyID).
	KeyID [32]byte
	// SessionID must be fresh; the caller refuses repeated ids.
	SessionID [32]byte
	// Rand is the randomness source (crypto/rand.Reader in production).
	Rand io.Reader
}

// PairSetup is one side's single-use state machine for a pairwise setup:
// Start → Next (rounds 2..5) → Finish. Each side sends one PairMessage per
// round and receives the peer's.
type PairSetup struct {
	cfg   PairConfig
	round int
	otS   *baseot.Sender
	otR   *baseot.Receiver
	zs    [32]byte
	zc    [32]byte
	zpeer [32]byte
}

// PairMessage is one round of the pairwise setup. Seed carries the zero-seed
// commitment (round 1) or opening (round 2) and is zero otherwise.
type PairMessage struct {
	SessionID [32]byte
	Round     int
	From, To  int
	Seed      [32]byte
	OT        []byte
}

// PairResult is the outcome of a pairwise setup, to be installed with
// KeyShare.InstallPair.
type PairResult struct {
	peer   int
	self   int
	keyID  [32]byte
	origin [32]byte // the setup's session id
	send   *baseot.ReceiverOutput
	recv   *baseot.SenderOutput
	zero   [32]byte
}

// Peer returns the peer index of the result.
func (r *PairResult) Peer() int { return r.peer }

// ID returns the public id the pair will have once installed (see
// KeyShare.PairID); both sides of one setup compute the same id.
func (r *PairResult) ID() [32]byte { return pairID(r.keyID, r.origin, r.self, r.peer) }

// NewPairSetup creates one side's pairwise setup state.
func NewPairSetup(cfg PairConfig) (*PairSetup, error) {
	if cfg.Self < 1 || cfg.Self > Parties || cfg.Peer < 1 || cfg.Peer > Parties || cfg.Self == cfg.Peer || cfg.Rand == nil {
		return nil, fmt.Errorf("%w: pair setup %d-%d", ErrConfig, cfg.Self, cfg.Peer)
	}
	return &PairSetup{cfg: cfg}, nil
}

func (p *PairSetup) ctx(sender, receiver int) transcript.Context {
	return transcript.Context{KeyID: p.cfg.KeyID, SessionID: p.cfg.SessionID, Sender: uint32(sender), Receiver: uint32(receiver), Round: 100}
}

func (p *PairSetup) msg(round int) *PairMessage {
	return &PairMessage{SessionID: p.cfg.SessionID, Round: round, From: p.cfg.Self, To: p.cfg.Peer}
}

func (p *PairSetup) fail(err error) error {
	p.round = -1
	clear(p.zs[:])
	clear(p.zpeer[:])
	return err
}

func (p *PairSetup) check(in *PairMessage, round int) error {
	if in == nil || in.SessionID != p.cfg.SessionID || in.From != p.cfg.Peer || in.To != p.cfg.Self || in.Round != round {
		return abort(p.cfg.Peer, "pair-setup message for another session, party or round", ErrDecode)
	}
	if round > 2 && in.Seed != ([32]byte{}) {
		return abort(p.cfg.Peer, "unexpected seed field", ErrDecode)
	}
	return nil
}

// Start returns the round-1 message.
func (p *PairSetup) Start() (*PairMessage, error) {
	if p.round != 0 {
		return nil, ErrState
	}
	p.round = -1
	if _, err := io.ReadFull(p.cfg.Rand, p.zs[:]); err != nil {
		return nil, p.fail(err)
	}
	s, m1, err := baseot.NewSender(p.cfg.Rand, p.ctx(p.cfg.Self, p.cfg.Peer))
	if err != nil {
		return nil, p.fail(err)
	}
	p.otS = s
	out := p.msg(1)
	out.Seed = seedCommit(p.cfg.SessionID, p.cfg.Self, p.cfg.Peer, p.zs[:])
	out.OT = m1
	p.round = 1
	return out, nil
}

// Next consumes the peer's message of the current round and returns this
// side's message for the next round (rounds 2 to 5).
func (p *PairSetup) Next(in *PairMessage) (*PairMessage, error) {
	r := p.round
	if r < 1 || r > 4 {
		return nil, ErrState
	}
	p.round = -1
	if err := p.check(in, r); err != nil {
		return nil, p.fail(err)
	}
	out := p.msg(r + 1)
	var err error
	switch r {
	case 1:
		p.zc = in.Seed
		var rcv *baseot.Receiver
		rcv, out.OT, err = baseot.NewReceiver(p.cfg.Rand, p.ctx(p.cfg.Peer, p.cfg.Self), in.OT)
		p.otR = rcv
		out.Seed = p.zs
	case 2:
		c := seedCommit(p.cfg.SessionID, p.cfg.Peer, p.cfg.Self, in.Seed[:])
		if subtle.ConstantTimeCompare(c[:], p.zc[:]) != 1 {
			return nil, p.fail(abort(p.cfg.Peer, "zero-seed contribution does not open", nil))
		}
		p.zpeer = in.Seed
		out.OT, err = p.otS.Round2(in.OT)
	case 3:
		out.OT, err = p.otR.Round3(in.OT)
	case 4:
		out.OT, err = p.otS.Round4(in.OT)
	}
	if err != nil {
		return nil, p.fail(abort(p.cfg.Peer, fmt.Sprintf("base OT (round %d)", r), err))
	}
	p.round = r + 1
	return out, nil
}

// Finish consumes the peer's round-5 message and returns the pair material.
func (p *PairSetup) Finish(in *PairMessage) (*PairResult, error) {
	if p.round != 5 {
		return nil, ErrState
	}
	p.round = -1
	if err := p.check(in, 5); err != nil {
		return nil, p.fail(err)
	}
	ro, err := p.otR.Round5(in.OT)
	if err != nil {
		return nil, p.fail(abort(p.cfg.Peer, "base OT (round 5)", err))
	}
	so, err := p.otS.Output()
	if err != nil {
		return nil, p.fail(abort(p.cfg.Peer, "base OT output", err))
	}
	lo, hi, zlo, zhi := p.cfg.Self, p.cfg.Peer, p.zs[:], p.zpeer[:]
	if hi < lo {
		lo, hi, zlo, zhi = hi, lo, zhi, zlo
	}
	res := &PairResult{peer: p.cfg.Peer, self: p.cfg.Self, keyID: p.cfg.KeyID, origin: p.cfg.SessionID, send: ro, recv: so}
	res.zero = transcript.New("pair/zero-seed").Bytes(p.cfg.KeyID[:]).Bytes(p.cfg.SessionID[:]).
		Uint32(uint32(lo)).Uint32(uint32(hi)).Bytes(zlo).Bytes(zhi).Sum32()
	p.fail(nil)
	p.round = 6
	return res, nil
}

// InstallPair replaces the pairwise material for r's peer, zeroizing the old
// material. No signing session with that peer may be running.
func (k *KeyShare) InstallPair(r *PairResult) error {
	if r == nil || r.peer == k.self || r.self != k.self || r.peer < 1 || r.peer > Parties {
		return fmt.Errorf("%w: bad pair result", ErrConfig)
	}
	if r.keyID != k.keyID {
		return fmt.Errorf("%w: pair result for another key", ErrConfig)
	}
	k.setPair(r.peer, r.send, r.recv, r.zero, r.origin)
	return nil
}

func pairOTSize(round int) int {
	switch round {
	case 1:
		return baseot.Msg1Size
	case 2:
		return baseot.Msg2Size
	default:
		return otSize(round)
	}
}

// MarshalBinary encodes the message.
func (m *PairMessage) MarshalBinary() ([]byte, error) {
	if m.Round < 1 || m.Round > 5 || len(m.OT) != pairOTSize(m.Round) {
		return nil, fmt.Errorf("%w: bad pair-setup round or length", ErrDecode)
	}
	w := newWriter(tagPair, 2+32+3+32+len(m.OT))
	w.put(m.SessionID[:])
	w.u8(m.Round)
	w.u8(m.From)
	w.u8(m.To)
	w.put(m.Seed[:])
	w.put(m.OT)
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *PairMessage) UnmarshalBinary(b []byte) error {
	if len(b) < 2+32+1 {
		return fmt.Errorf("%w: truncated", ErrDecode)
	}
	round := int(b[2+32])
	if round < 1 || round > 5 {
		return fmt.Errorf("%w: bad pair-setup round %d", ErrDecode, round)
	}
	n := pairOTSize(round)
	r := newReader(b, tagPair, 2+32+3+32+n)
	r.fixed(m.SessionID[:])
	m.Round = int(r.take(1)[0])
	m.From = r.party("from")
	m.To = r.party("to")
	r.fixed(m.Seed[:])
	m.OT = append([]byte(nil), r.take(n)...)
	if err := r.done(); err != nil {
		return err
	}
	if m.From == m.To {
		return fmt.Errorf("%w: message to self", ErrDecode)
	}
	if m.Round > 2 && m.Seed != ([32]byte{}) {
		return fmt.Errorf("%w: nonzero seed field", ErrDecode)
	}
	return nil
}

// Confidential reports whether the transport must encrypt the message.
func (*PairMessage) Confidential() bool { return true }
