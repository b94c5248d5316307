package ecdsa

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/ote"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/rvole"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// SignerConfig configures a Signer.
type SignerConfig struct {
	// Rand is the randomness source (crypto/rand.Reader in production); it
	// must be safe for concurrent use (per-peer work runs in parallel).
	Rand io.Reader
	// MaxPresignatures bounds the live (unused, unexpired) presignatures;
	// default 64.
	MaxPresignatures int
	// MaxAge is how long a presignature stays usable; default 10 minutes.
	MaxAge time.Duration
	// SessionMaxAge is how long a presigning session may run from
	// NewPresign to Finalize; a later round fails with ErrExpired. Default
	// 2 minutes.
	SessionMaxAge time.Duration
	// MaxSessions bounds the session ids the Signer remembers to refuse
	// their reuse. An id is remembered for SessionMaxAge + MaxAge (as long
	// as it can be live, first as a session, then as a presignature);
	// NewPresign fails with ErrBusy while MaxSessions ids are remembered.
	// Default 65536.
	MaxSessions int
	// MaxBanLifts bounds how many times a ban of one party is lifted by a
	// fresh pairwise setup (see Signer.Bans); after that the ban stays
	// until the key share is replaced. Default 2.
	MaxBanLifts int
	// Now returns the current time; default time.Now.
	Now func() time.Time
}

// Ban records why a party is banned: the id of the pairwise setup whose
// check it failed, the reason with its evidence, and when.
type Ban struct {
	Party  int
	PairID [32]byte
	Reason string
	At     time.Time
}

// Signer runs presigning sessions for one KeyShare. It keeps, in memory
// only, the session ids used recently (a repeated id is refused), the ban
// list of parties that failed an OT-extension or RVOLE check, and the pool
// of live presignatures (bounded in count and age). It is safe for
// concurrent use.
//
// A ban belongs to the pairwise setup whose check failed: it is lifted
// when a new pairwise setup with that party is installed (its id differs),
// at most MaxBanLifts times per party. A failed check leaks information
// about that setup's OT correlation, which the new setup replaces and
// zeroizes; the budget bounds how many such leaks a party that keeps
// cheating can cause.
type Signer struct {
	share *KeyShare
	cfg   SignerConfig

	mu    sync.Mutex
	seen  map[[32]byte]time.Time // session id → when it may be forgotten
	bans  [Parties + 1]*Ban
	lifts [Parties + 1]int
	live  map[*Presignature]struct{}
	// retired is set by Successor: no presignature is added any more.
	retired bool
}

// NewSigner creates a Signer for share.
func NewSigner(share *KeyShare, cfg SignerConfig) (*Signer, error) {
	if share == nil || cfg.Rand == nil {
		return nil, fmt.Errorf("%w: nil share or randomness", ErrConfig)
	}
	if cfg.MaxPresignatures <= 0 {
		cfg.MaxPresignatures = 64
	}
	if cfg.MaxAge <= 0 {
		cfg.MaxAge = 10 * time.Minute
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = 2 * time.Minute
	}
	if cfg.MaxSessions <= 0 {
		cfg.MaxSessions = 1 << 16
	}
	if cfg.MaxBanLifts <= 0 {
		cfg.MaxBanLifts = 2
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Signer{share: share, cfg: cfg, seen: make(map[[32]byte]time.Time), live: make(map[*Presignature]struct{})}, nil
}

// Config returns the Signer's configuration with the defaults filled in.
func (s *Signer) Config() SignerConfig { return s.cfg }

// Ban refuses sessions with party j while the current pairwise setup with
// j is installed (for example after another component detected
// misbehaviour); reason is recorded with the ban.
func (s *Signer) Ban(j int, reason string) {
	if j < 1 || j > Parties || j == s.share.self {
		return
	}
	id, _ := s.share.PairID(j)
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bans[j]; b != nil && b.PairID == id {
		return
	}
	s.bans[j] = &Ban{Party: j, PairID: id, Reason: reason, At: s.cfg.Now()}
}

// Banned reports whether party j is banned.
func (s *Signer) Banned(j int) bool {
	if j < 1 || j > Parties {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bannedLocked(j)
}

// Bans returns the current bans, by party.
func (s *Signer) Bans() []Ban {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Ban
	for j := 1; j <= Parties; j++ {
		if s.bannedLocked(j) {
			out = append(out, *s.bans[j])
		}
	}
	return out
}

// bannedLocked reports whether j is banned, lifting the ban if a new
// pairwise setup with j replaced the one it was recorded against and the
// lift budget allows.
func (s *Signer) bannedLocked(j int) bool {
	b := s.bans[j]
	if b == nil {
		return false
	}
	if id, ok := s.share.PairID(j); ok && id != b.PairID && s.lifts[j] < s.cfg.MaxBanLifts {
		s.bans[j] = nil
		s.lifts[j]++
		return false
	}
	return true
}

// banPair bans j for the pairwise setup m (the one the failed check used).
func (s *Signer) banPair(j int, m *pairMaterial, reason string) {
	if j < 1 || j > Parties || m == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.bans[j]; b != nil && b.PairID == m.id {
		return
	}
	s.bans[j] = &Ban{Party: j, PairID: m.id, Reason: reason, At: s.cfg.Now()}
}

// Live returns the number of live presignatures in the pool.
func (s *Signer) Live() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked()
	return len(s.live)
}

// Sessions returns the number of session ids the Signer remembers.
func (s *Signer) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneSeenLocked()
	return len(s.seen)
}

func (s *Signer) pruneLocked() {
	now := s.cfg.Now()
	for p := range s.live {
		if p.consumed.Load() || now.After(p.expires) {
			if p.consumed.CompareAndSwap(false, true) {
				p.wipe()
			}
			delete(s.live, p)
		}
	}
}

func (s *Signer) pruneSeenLocked() {
	now := s.cfg.Now()
	for id, until := range s.seen {
		if now.After(until) {
			delete(s.seen, id)
		}
	}
}

// PresignSession is one party's single-use state for one presigning session.
// Its methods must be called in order from one goroutine at a time.
type PresignSession struct {
	s     *Signer
	pairs [Parties + 1]*pairMaterial // snapshot taken at NewPresign
	sid   [32]byte
	set   []int
	ctxID [32]byte
	round int
	// deadline is when the session expires (SessionMaxAge after start):
	// its id is forgotten only after it can no longer be live.
	deadline time.Time

	r, phi *p384.Scalar
	R      *p384.Point
	Rb     []byte // encoding of R (computed once)
	salt   [32]byte
	com    [Parties + 1][32]byte
	recv   [Parties + 1]*rvole.Receiver
	chi    [Parties + 1]*p384.Scalar
	sk     *p384.Scalar
	pk     *p384.Point
	cu, cv [Parties + 1]*p384.Scalar
	echo   [32]byte
}

// NewPresign starts a presigning session with the given coordinator-assigned
// session id and sorted signer set (Threshold parties including this one).
// A session id that this Signer has seen before is refused
// (ErrSessionReused), and so is a session while MaxSessions ids are
// remembered (ErrBusy) or with a banned party (ErrBanned).
func (s *Signer) NewPresign(sid [32]byte, signers []int) (*PresignSession, error) {
	if err := validSet(signers); err != nil {
		return nil, err
	}
	self := s.share.self
	member := false
	for _, j := range signers {
		member = member || j == self
	}
	if !member {
		return nil, fmt.Errorf("%w: party %d not in signer set", ErrConfig, self)
	}
	if s.share.zeroized.Load() {
		return nil, fmt.Errorf("%w: key share zeroized", ErrState)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, j := range signers {
		if j != self && s.bannedLocked(j) {
			return nil, fmt.Errorf("%w: %d (%s)", ErrBanned, j, s.bans[j].Reason)
		}
	}
	p := &PresignSession{s: s, sid: sid, set: append([]int(nil), signers...)}
	if _, ok := s.seen[sid]; ok {
		return nil, ErrSessionReused
	}
	for _, j := range signers {
		if j != self && !s.share.HasPair(j) {
			return nil, fmt.Errorf("%w: no pairwise setup with party %d", ErrConfig, j)
		}
	}
	if len(s.seen) >= s.cfg.MaxSessions {
		s.pruneSeenLocked()
		if len(s.seen) >= s.cfg.MaxSessions {
			return nil, fmt.Errorf("%w: %d presigning session ids in use", ErrBusy, len(s.seen))
		}
	}
	for _, j := range signers {
		if j != self {
			if p.pairs[j] = s.share.acquirePair(j); p.pairs[j] == nil {
				p.releasePairs()
				return nil, fmt.Errorf("%w: no pairwise setup with party %d", ErrConfig, j)
			}
		}
	}
	now := s.cfg.Now()
	p.deadline = now.Add(s.cfg.SessionMaxAge)
	s.seen[sid] = p.deadline.Add(s.cfg.MaxAge)
	kid := s.share.keyID
	t := transcript.New("presign/session").Bytes(kid[:]).Bytes(sid[:])
	for _, j := range signers {
		t.Uint32(uint32(j))
	}
	p.ctxID = t.Sum32()
	return p, nil
}

func (p *PresignSession) ctx(sender, receiver, round int) transcript.Context {
	return transcript.Context{KeyID: p.s.share.keyID, SessionID: p.ctxID, Sender: uint32(sender), Receiver: uint32(receiver), Round: uint32(round)}
}

func (p *PresignSession) peers() []int {
	var out []int
	for _, j := range p.set {
		if j != p.s.share.self {
			out = append(out, j)
		}
	}
	return out
}

func (p *PresignSession) fail(err error) error {
	p.round = -1
	for _, x := range []*p384.Scalar{p.r, p.phi, p.sk} {
		if x != nil {
			x.Zeroize()
		}
	}
	for j := range p.recv {
		if p.recv[j] != nil {
			p.recv[j].Zeroize()
		}
		for _, x := range []*p384.Scalar{p.chi[j], p.cu[j], p.cv[j]} {
			if x != nil {
				x.Zeroize()
			}
		}
	}
	var ae *AbortError
	if errors.As(err, &ae) && ae.Ban && ae.Culprit >= 1 && ae.Culprit <= Parties {
		p.s.banPair(ae.Culprit, p.pairs[ae.Culprit], fmt.Sprintf("session %x: %s", p.sid[:8], ae.Error()))
	}
	p.releasePairs()
	return err
}

// releasePairs ends the session's use of its pairwise material.
func (p *PresignSession) releasePairs() {
	for j, m := range p.pairs {
		if m != nil {
			p.s.share.releasePair(m)
			p.pairs[j] = nil
		}
	}
}

// Abort ends a session that will not be finished, wiping its secrets. It
// must not run concurrently with another method of the session.
func (p *PresignSession) Abort() {
	if p.round != -2 {
		p.fail(nil)
		p.round = -2
	}
}

func (p *PresignSession) step(want int) error {
	if p.round != want {
		return ErrState
	}
	if p.s.cfg.Now().After(p.deadline) {
		return p.fail(fmt.Errorf("%w: presigning session older than %v", ErrExpired, p.s.cfg.SessionMaxAge))
	}
	p.round = -1
	return nil
}

// binding is what a message from sender to receiver binds: this party's
// session context and the pairwise setup it holds with its peer.
func (p *PresignSession) binding(sender, receiver int) [32]byte {
	peer := sender
	if peer == p.s.share.self {
		peer = receiver
	}
	id := p.pairs[peer].id
	return transcript.New("presign/binding").Bytes(p.ctxID[:]).Uint32(uint32(sender)).Uint32(uint32(receiver)).Bytes(id[:]).Sum32()
}

// checkBinding compares a message's binding with this party's view. A
// mismatch means the two parties run different sessions (another signer
// set or session) or hold different pairwise setups, and proves no one's
// misbehaviour: the abort names no culprit and bans no one.
func (p *PresignSession) checkBinding(from int, got [32]byte) error {
	want := p.binding(from, p.s.share.self)
	if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
		return nil
	}
	id := p.pairs[from].id
	return &AbortError{Reason: fmt.Sprintf("party %d's message is bound to another session context or pairwise setup (our pair id with %d is %x): a relay or a pair setup that finished on one side only causes this; rerun the pair setup if it persists", from, from, id[:8]), Err: ErrContext}
}

func (p *PresignSession) commit(i int, R []byte, salt []byte) [32]byte {
	return transcript.New("presign/commit").Bytes(p.ctxID[:]).Uint32(uint32(i)).Bytes(R).Bytes(salt).Sum32()
}

// Round1 samples the instance key and the inversion mask, commits to
// R_i = r_i·G and starts the RVOLE instances in which this party receives.
func (p *PresignSession) Round1() ([]*PresignRound1, error) {
	if err := p.step(0); err != nil {
		return nil, err
	}
	rnd := p.s.cfg.Rand
	i := p.s.share.self
	var err error
	if p.r, err = p384.NewScalar().RandomNonZero(rnd); err != nil {
		return nil, p.fail(err)
	}
	if p.phi, err = p384.NewScalar().RandomNonZero(rnd); err != nil {
		return nil, p.fail(err)
	}
	p.R = p384.BaseMul(p.r)
	if _, err := io.ReadFull(rnd, p.salt[:]); err != nil {
		return nil, p.fail(err)
	}
	p.Rb = p.R.Bytes()
	p.com[i] = p.commit(i, p.Rb, p.salt[:])
	var outs [Parties + 1]*PresignRound1
	err = p.forPeers(func(j int) error {
		m := &PresignRound1{SessionID: p.sid, From: i, To: j, Binding: p.binding(i, j), Commit: p.com[i]}
		r, chi, err := rvole.NewReceiverInto(&m.RVOLE, rnd, p.pairs[j].recv, p.pairs[j].gRecv, p.ctx(j, i, 1))
		if err != nil {
			return err
		}
		p.recv[j], p.chi[j] = r, chi
		outs[j] = m
		return nil
	})
	if err != nil {
		return nil, p.fail(err)
	}
	var out []*PresignRound1
	for _, j := range p.peers() {
		out = append(out, outs[j])
	}
	p.round = 1
	return out, nil
}

// forPeers runs f for every peer concurrently (the two RVOLE instances of a
// party are independent) and returns the first failing peer's error.
func (p *PresignSession) forPeers(f func(j int) error) error { return forEach(p.peers(), f) }

// collectSet checks that msgs are one message from every peer of the set,
// for this party and session. Each message's binding is compared first, so
// that a message from another context aborts without blame.
func collectSet[T any](p *PresignSession, msgs []T, sid, from, to func(T) any, binding func(T) [32]byte) ([Parties + 1]T, error) {
	var out [Parties + 1]T
	var seen [Parties + 1]bool
	self := p.s.share.self
	for _, m := range msgs {
		f, ok := from(m).(int)
		if !ok {
			return out, abort(0, "nil message", ErrDecode)
		}
		inSet := false
		for _, j := range p.set {
			inSet = inSet || (j == f && j != self)
		}
		if !inSet {
			return out, abort(0, "message from a party outside the signer set", ErrDecode)
		}
		if err := p.checkBinding(f, binding(m)); err != nil {
			return out, err
		}
		if to(m).(int) != self || sid(m).([32]byte) != p.sid {
			return out, abort(f, "message for another party or session", ErrDecode)
		}
		if seen[f] {
			return out, abort(f, "duplicate message", ErrDecode)
		}
		seen[f] = true
		out[f] = m
	}
	for _, j := range p.peers() {
		if !seen[j] {
			return out, abort(j, "missing message", ErrDecode)
		}
	}
	return out, nil
}

// zeroShare returns ζ_i = Σ_{j∈S\{i}} ±H(seed_ij, session) with Σ_i ζ_i = 0.
func (p *PresignSession) zeroShare() *p384.Scalar {
	i := p.s.share.self
	z := p384.NewScalar()
	for _, j := range p.peers() {
		seed := p.pairs[j].zero
		h := transcript.New("presign/zero-share").Bytes(seed[:]).Bytes(p.ctxID[:]).SumScalar()
		if i < j {
			z.Add(z, h)
		} else {
			z.Sub(z, h)
		}
		h.Zeroize()
	}
	return z
}

// Round2 computes the additive key share sk_i = λ_i·x_i + ζ_i and runs the
// RVOLE sender side towards every peer with inputs (r_i, sk_i).
func (p *PresignSession) Round2(in []*PresignRound1) ([]*PresignRound2, error) {
	if err := p.step(1); err != nil {
		return nil, err
	}
	i := p.s.share.self
	msgs, err := collectSet(p, in, func(m *PresignRound1) any {
		if m == nil {
			return nil
		}
		return m.SessionID
	},
		func(m *PresignRound1) any {
			if m == nil {
				return nil
			}
			return m.From
		}, func(m *PresignRound1) any {
			if m == nil {
				return nil
			}
			return m.To
		}, func(m *PresignRound1) [32]byte { return m.Binding })
	if err != nil {
		return nil, p.fail(err)
	}
	t := transcript.New("presign/echo").Bytes(p.ctxID[:])
	for _, j := range p.set {
		if j != i {
			p.com[j] = msgs[j].Commit
		}
		t.Bytes(p.com[j][:])
	}
	p.echo = t.Sum32()
	p.sk = p384.NewScalar().Mul(lagrange(p.set, i), p.s.share.x)
	z := p.zeroShare()
	p.sk.Add(p.sk, z)
	z.Zeroize()
	p.pk = p384.BaseMul(p.sk)
	var outs [Parties + 1]*PresignRound2
	pkb := p.pk.Bytes()
	err = p.forPeers(func(j int) error {
		m := &PresignRound2{SessionID: p.sid, From: i, To: j, Binding: p.binding(i, j), Echo: p.echo, Salt: p.salt}
		c, err := rvole.SendInto(&m.RVOLE, p.s.cfg.Rand, p.pairs[j].send, p.pairs[j].gSend, p.ctx(i, j, 1),
			[rvole.L]*p384.Scalar{p.r, p.sk}, msgs[j].RVOLE[:])
		if err != nil {
			e := abort(j, "RVOLE receiver message", err)
			e.Ban = errors.Is(err, ote.ErrCheck)
			return e
		}
		p.cu[j], p.cv[j] = c[0], c[1]
		copy(m.R[:], p.Rb)
		copy(m.PK[:], pkb)
		copy(m.GammaU[:], p384.BaseMul(c[0]).Bytes())
		copy(m.GammaV[:], p384.BaseMul(c[1]).Bytes())
		p384.NewScalar().Sub(p.phi, p.chi[j]).PutBytes(m.Psi[:])
		outs[j] = m
		return nil
	})
	if err != nil {
		return nil, p.fail(err)
	}
	var out []*PresignRound2
	for _, j := range p.peers() {
		out = append(out, outs[j])
	}
	p.round = 2
	return out, nil
}

// Presignature is a single-use, message-independent share of one signature.
// It exists only in memory, is bound to its key, session and signer set, and
// is consumed by the first call to Sign (success or not).
type Presignature struct {
	signer   *Signer
	sid      [32]byte
	set      [Threshold]int
	R        *p384.Point
	r        *p384.Scalar
	u, v     *p384.Scalar
	phi      *p384.Scalar
	expires  time.Time
	consumed atomic.Bool
}

// Usable reports whether the presignature is neither consumed nor expired.
func (ps *Presignature) Usable() bool {
	return !ps.consumed.Load() && !ps.signer.cfg.Now().After(ps.expires)
}

// SessionID returns the session id of the presignature.
func (ps *Presignature) SessionID() [32]byte { return ps.sid }

// Signers returns the signer set of the presignature.
func (ps *Presignature) Signers() []int { return append([]int(nil), ps.set[:]...) }

func (ps *Presignature) wipe() {
	ps.u.Zeroize()
	ps.v.Zeroize()
	ps.phi.Zeroize()
}

// Finalize checks the round-2 messages (echo, commitment openings, RVOLE μ
// checks, the pairwise Γ consistency checks and Σ pk_j = PK) and returns the
// presignature, which is also registered in the Signer's bounded pool.
func (p *PresignSession) Finalize(in []*PresignRound2) (*Presignature, error) {
	if err := p.step(2); err != nil {
		return nil, err
	}
	msgs, err := collectSet(p, in, func(m *PresignRound2) any {
		if m == nil {
			return nil
		}
		return m.SessionID
	},
		func(m *PresignRound2) any {
			if m == nil {
				return nil
			}
			return m.From
		}, func(m *PresignRound2) any {
			if m == nil {
				return nil
			}
			return m.To
		}, func(m *PresignRound2) [32]byte { return m.Binding })
	if err != nil {
		return nil, p.fail(err)
	}
	type peerOut struct {
		R, pk *p384.Point
		psi   *p384.Scalar
		d     [rvole.L]*p384.Scalar
	}
	var po [Parties + 1]peerOut
	err = p.forPeers(func(j int) error {
		m := msgs[j]
		if subtle.ConstantTimeCompare(m.Echo[:], p.echo[:]) != 1 {
			return abort(j, "echo digest mismatch: a round-1 commitment was equivocated (by this sender or another; the transport-signed round-1 messages identify whom)", nil)
		}
		c := p.commit(j, m.R[:], m.Salt[:])
		if subtle.ConstantTimeCompare(c[:], p.com[j][:]) != 1 {
			return abort(j, "R commitment does not open", nil)
		}
		Rj, err := p384.ParsePoint(m.R[:])
		if err != nil {
			return abort(j, "invalid R", err)
		}
		pkj, err := p384.ParsePoint(m.PK[:])
		if err != nil {
			return abort(j, "invalid pk", err)
		}
		gu, err := p384.ParsePoint(m.GammaU[:])
		if err != nil {
			return abort(j, "invalid Γu", err)
		}
		gv, err := p384.ParsePoint(m.GammaV[:])
		if err != nil {
			return abort(j, "invalid Γv", err)
		}
		psi, err := p384.NewScalar().SetBytes(m.Psi[:])
		if err != nil {
			return abort(j, "invalid ψ", err)
		}
		d, err := p.recv[j].Finish(m.RVOLE[:])
		if err != nil {
			e := abort(j, "RVOLE sender message", err)
			e.Ban = errors.Is(err, rvole.ErrCheck)
			return e
		}
		po[j] = peerOut{R: Rj, pk: pkj, psi: psi, d: d}
		// The two DKLs23 consistency checks χ·R_j = d_0·G + Γu and
		// χ·pk_j = d_1·G + Γv are verified as one random linear combination
		// χ·(R_j + ρ·pk_j) = (d_0 + ρ·d_1)·G + (Γu + ρ·Γv) with a fresh
		// 128-bit ρ drawn here, after every point is fixed. If either
		// equation is false, at most one ρ mod n satisfies the combination,
		// so a false pair passes with probability ≤ 2^-128; when both are
		// true the combination holds. The ρ multiples of the public points
		// pk_j and Γv use variable-time code (ρ is public-only randomness,
		// independent of every secret); χ and d stay in constant-time code.
		rho, err := p384.RandomChallenge(p.s.cfg.Rand)
		if err != nil {
			return err
		}
		lhs := p384.Mul(p384.Add(Rj, p384.VarTimeMulChallenge(pkj, rho)), p.chi[j])
		e := p384.NewScalar().Mul(rho.Scalar(), d[1])
		e.Add(e, d[0])
		rhs := p384.Add(p384.BaseMul(e), p384.Add(gu, p384.VarTimeMulChallenge(gv, rho)))
		e.Zeroize()
		if !p384.Equal(lhs, rhs) {
			return abort(j, "Γu/Γv consistency check", nil)
		}
		return nil
	})
	if err != nil {
		for _, x := range po {
			for _, d := range x.d {
				if d != nil {
					d.Zeroize()
				}
			}
		}
		return nil, p.fail(err)
	}
	R := p.R
	pkSum := p.pk
	psiSum := p.phi.Clone()
	u := p384.NewScalar()
	v := p384.NewScalar()
	for _, j := range p.peers() {
		R = p384.Add(R, po[j].R)
		pkSum = p384.Add(pkSum, po[j].pk)
		psiSum.Add(psiSum, po[j].psi)
		u.Add(u, p.cu[j])
		u.Add(u, po[j].d[0])
		v.Add(v, p.cv[j])
		v.Add(v, po[j].d[1])
		po[j].d[0].Zeroize()
		po[j].d[1].Zeroize()
	}
	if !p384.Equal(pkSum, p.s.share.pk) {
		return nil, p.fail(abort(0, "Σ pk_j ≠ PK", nil))
	}
	if p384.IsIdentity(R) {
		return nil, p.fail(abort(0, "R is the identity", nil))
	}
	r, err := p384.XScalar(R)
	if err != nil || r.IsZero() == 1 {
		return nil, p.fail(abort(0, "r = 0", err))
	}
	u.Add(u, p384.NewScalar().Mul(p.r, psiSum))
	v.Add(v, p384.NewScalar().Mul(p.sk, psiSum))
	psiSum.Zeroize()
	ps := &Presignature{signer: p.s, sid: p.sid, R: R, r: r, u: u, v: v, phi: p.phi.Clone()}
	copy(ps.set[:], p.set)
	p.fail(nil) // wipe session secrets; the session is finished
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pruneLocked()
	if s.retired {
		ps.consumed.Store(true)
		ps.wipe()
		return nil, fmt.Errorf("%w: the key share was refreshed during the session", ErrState)
	}
	if len(s.live) >= s.cfg.MaxPresignatures {
		ps.consumed.Store(true)
		ps.wipe()
		return nil, ErrPoolFull
	}
	ps.expires = s.cfg.Now().Add(s.cfg.MaxAge)
	s.live[ps] = struct{}{}
	return ps, nil
}

// String describes the presignature without revealing secret material.
func (ps *Presignature) String() string {
	return fmt.Sprintf("tecdsa.Presignature{session %x, signers %v, consumed %v}", ps.sid[:8], ps.set, ps.consumed.Load())
}

// GoString is String, so that %#v does not print secret material either.
func (ps *Presignature) GoString() string { return ps.String() }

// Successor returns the Signer for ns, the share a Refresh committed in
// place of this Signer's share, and retires this Signer. The successor
// keeps the remembered session ids (a session id stays refused across the
// refresh), the bans and their lift counts (they belong to the pairwise
// setups, which the refresh carries over); this Signer's live
// presignatures are wiped, and a session still running on it cannot add
// one, so nothing computed from the previous sharing survives the refresh. ns must be for the same key and party, and the
// previous share must have been erased by the refresh.
func (s *Signer) Successor(ns *KeyShare) (*Signer, error) {
	if ns == nil || ns.zeroized.Load() {
		return nil, fmt.Errorf("%w: successor share missing or zeroized", ErrState)
	}
	if ns.keyID != s.share.keyID || ns.self != s.share.self {
		return nil, fmt.Errorf("%w: successor share is for another key or party", ErrConfig)
	}
	if !s.share.zeroized.Load() {
		return nil, fmt.Errorf("%w: the previous share is not erased", ErrState)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired {
		return nil, fmt.Errorf("%w: this Signer already has a successor", ErrState)
	}
	s.retired = true
	n := &Signer{share: ns, cfg: s.cfg, seen: make(map[[32]byte]time.Time, len(s.seen)), bans: s.bans, lifts: s.lifts, live: make(map[*Presignature]struct{})}
	for id, until := range s.seen {
		n.seen[id] = until
	}
	for p := range s.live {
		if p.consumed.CompareAndSwap(false, true) {
			p.wipe()
		}
		delete(s.live, p)
	}
	return n, nil
}
