package mldsa

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"runtime"
	"sync"

	"github.com/cc-tsa/cc-tsa/dkg/mldsa/internal/fips204"
)

// commitDomain separates commitment hashes from every other use of SHAKE256.
const commitDomain = "CC-TSA threshold ML-DSA-65 v1 round-1 commitment"

// noCopy makes go vet's copylocks check flag copies of the embedding struct.
type noCopy struct{}

// Lock is a no-op used by go vet's copylocks check.
func (*noCopy) Lock() {}

// Unlock is a no-op used by go vet's copylocks check.
func (*noCopy) Unlock() {}

// Round1State is the secret, message-independent part of one signing attempt
// of one party: the K hyperball points x_j and the commitments
// w_j = A·round(x_j) mod q. It is single-use by construction: NewSession
// consumes it (a second use, even through a copy of the value, returns
// ErrStateConsumed), it has no serialization, and it lives in memory only.
type Round1State struct {
	_  noCopy
	in *round1Inner
}

type round1Inner struct {
	mu    sync.Mutex
	used  bool
	share *KeyShare
	x     []float64            // K × dimAll
	w     []byte               // K × revealSlotSize, packed w_j
	wd    [commitHashSize]byte // wDigest(w), so that committing is cheap online
}

// Round1 samples the masks and computes the commitments of one attempt. It
// does not depend on the message or on the signer set, so a party can keep a
// pool of round-1 states. rand nil means crypto/rand.
func (ks *KeyShare) Round1(rnd io.Reader) (*Round1State, error) {
	if rnd == nil {
		rnd = rand.Reader
	}
	p := ks.params
	bs, err := newBallSampler(rnd)
	if err != nil {
		return nil, err
	}
	defer bs.wipe()
	in := &round1Inner{
		share: ks,
		x:     make([]float64, p.K*dimAll),
		w:     make([]byte, p.K*revealSlotSize),
	}
	a := ks.pk.pk.A
	var (
		yHat fips204.VecL
		w    fips204.VecK
		e    fips204.Poly
	)
	for j := 0; j < p.K; j++ {
		x := in.x[j*dimAll : (j+1)*dimAll]
		bs.sample(x, p.RPrime, p.Nu)
		for i := range yHat {
			xi := x[i*fips204.N : (i+1)*fips204.N]
			for c := range yHat[i] {
				yHat[i][c] = ballModQ(xi[c])
			}
			yHat[i].NTT()
		}
		fips204.MatVecMul(&w, a, &yHat)
		out := in.w[j*revealSlotSize:]
		for i := range w {
			xi := x[dimY+i*fips204.N : dimY+(i+1)*fips204.N]
			for c := range e {
				e[c] = ballModQ(xi[c])
			}
			w[i].Add(&w[i], &e)
			fips204.PackW23(out[i*fips204.PolyW23Size:], &w[i])
		}
	}
	clear(yHat[:])
	clear(e[:])
	in.wd = wDigest(in.w)
	st := &Round1State{in: in}
	runtime.AddCleanup(st, func(in *round1Inner) { clear(in.x) }, in)
	return st, nil
}

// take consumes the state.
func (st *Round1State) take(ks *KeyShare) ([]float64, []byte, [commitHashSize]byte, error) {
	var wd [commitHashSize]byte
	if st == nil || st.in == nil {
		return nil, nil, wd, fmt.Errorf("mldsa: nil round-1 state")
	}
	in := st.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.used {
		return nil, nil, wd, ErrStateConsumed
	}
	if in.share != ks {
		return nil, nil, wd, fmt.Errorf("mldsa: round-1 state belongs to another key share")
	}
	in.used = true
	x, w, wd := in.x, in.w, in.wd
	in.x, in.w, in.share = nil, nil, nil
	return x, w, wd, nil
}

// Discard erases an unused round-1 state (e.g. when a pool is drained).
func (st *Round1State) Discard() {
	if st == nil || st.in == nil {
		return
	}
	st.in.mu.Lock()
	defer st.in.mu.Unlock()
	clear(st.in.x)
	st.in.used, st.in.x, st.in.w, st.in.share = true, nil, nil, nil
}

// SessionConfig binds a signing session. Every signer and the combiner must
// use the same values. Each signer must compute Mu itself, with
// PublicKey.Mu, from the message it has checked and agreed to sign; it must
// not take μ from the coordinator.
type SessionConfig struct {
	SessionID [32]byte     // unique per attempt, chosen by the coordinator
	Signers   []int        // the T signing parties, strictly increasing
	Mu        [MuSize]byte // μ from PublicKey.Mu(message, context)
}

// signerMask validates the signer set for p and returns it as a bit mask.
func (cfg *SessionConfig) signerMask(p Params) (uint8, error) {
	if len(cfg.Signers) != p.T {
		return 0, abort(CulpritNone, "signer set has %d members, want %d", len(cfg.Signers), p.T)
	}
	var m uint8
	for i, s := range cfg.Signers {
		if s < 0 || s >= p.N {
			return 0, abort(CulpritNone, "signer id %d out of range", s)
		}
		if m&(1<<s) != 0 {
			return 0, abort(s, "duplicate signer id %d in signer set", s)
		}
		if i > 0 && s < cfg.Signers[i-1] {
			return 0, abort(CulpritNone, "signer set not in increasing order")
		}
		m |= 1 << s
	}
	return m, nil
}

// The round-1 commitment of sender to its packed w is
//
//	SHA-512(header ‖ wDigest(w)),  wDigest(w) = SHA-512(wDomain ‖ len(w) ‖ w)
//
// where the header is length-prefixed and domain-separated (key tr, session
// id, shape, signer set, sender, μ, K, len(w)). Hashing w on its own first
// lets a party compute wDigest when it precomputes the round-1 state, so
// that committing online (once μ and the session are known) hashes 64 bytes
// instead of 274 kB; binding rests on the collision resistance of both
// SHA-512 calls. SHA-512 (256-bit collision resistance; the paper asks for
// 2κ = 384 output bits, i.e. 192-bit binding) is used instead of SHAKE256
// because w is 273,792 bytes per signer for 3-of-5 and SHA-512 hashes it
// about twice as fast here.
const wDomain = "CC-TSA threshold ML-DSA-65 v1 round-1 w"

// newWDigester returns a SHA-512 state that has absorbed wDigest's prefix
// for a w of wLen bytes; writing w and taking the sum gives wDigest(w).
func newWDigester(wLen int) hash.Hash {
	h := sha512.New()
	var hdr []byte
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(wDomain)))
	hdr = append(hdr, wDomain...)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(wLen))
	h.Write(hdr)
	return h
}

// wDigest is SHA-512 over the domain, the length and w.
func wDigest(w []byte) [commitHashSize]byte {
	h := newWDigester(len(w))
	h.Write(w)
	var out [commitHashSize]byte
	h.Sum(out[:0])
	return out
}

// commitHash computes sender's round-1 commitment to its packed w.
func commitHash(pk *PublicKey, p Params, cfg *SessionConfig, sender int, w []byte) [commitHashSize]byte {
	wd := wDigest(w)
	return commitFromDigest(pk, p, cfg, sender, len(w), &wd)
}

// commitFromDigest computes sender's round-1 commitment from wDigest(w).
func commitFromDigest(pk *PublicKey, p Params, cfg *SessionConfig, sender int, wLen int, wd *[commitHashSize]byte) [commitHashSize]byte {
	h := sha512.New()
	var hdr []byte
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(commitDomain)))
	hdr = append(hdr, commitDomain...)
	hdr = binary.BigEndian.AppendUint16(hdr, fips204.TrSize)
	hdr = append(hdr, pk.pk.Tr[:]...)
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(cfg.SessionID)))
	hdr = append(hdr, cfg.SessionID[:]...)
	hdr = append(hdr, byte(p.T), byte(p.N), byte(len(cfg.Signers)))
	for _, s := range cfg.Signers {
		hdr = append(hdr, byte(s))
	}
	hdr = append(hdr, byte(sender))
	hdr = binary.BigEndian.AppendUint16(hdr, MuSize)
	hdr = append(hdr, cfg.Mu[:]...)
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(p.K))
	hdr = binary.BigEndian.AppendUint32(hdr, uint32(wLen))
	h.Write(hdr)
	h.Write(wd[:])
	var out [commitHashSize]byte
	h.Sum(out[:0])
	return out
}

const (
	phaseCommitted = iota + 1
	phaseRevealed
	phaseDone
	phaseAborted
)

// Session is one signing attempt of one party. It is created by
// KeyShare.NewSession and advanced by Round2 and Round3; any error ends it.
type Session struct {
	_     noCopy
	share *KeyShare
	p     Params
	cfg   SessionConfig
	pos   int // index of this party in cfg.Signers
	phase int

	sec  *sessionSecrets
	w    []byte
	own  [commitHashSize]byte   // this party's commitment
	cmts [][commitHashSize]byte // by signer position
}

// sessionSecrets is the secret state of a session: the masks and the partial
// secret. It is wiped when the session ends, aborts or is abandoned
// (Session.Abort, or best-effort when the Session becomes unreachable).
type sessionSecrets struct {
	x     []float64
	s1Hat fips204.VecL // partial secret, NTT domain, Montgomery form
	s2Hat fips204.VecK
}

func (sec *sessionSecrets) wipe() {
	clear(sec.x)
	sec.x = nil
	clear(sec.s1Hat[:])
	clear(sec.s2Hat[:])
}

// NewSession starts a signing attempt bound to cfg, consuming the round-1
// state, and returns this party's commitment. It counts one session against
// the share's budget.
func (ks *KeyShare) NewSession(st *Round1State, cfg SessionConfig) (*Session, *Commitment, error) {
	p := ks.params
	act, err := cfg.signerMask(p)
	if err != nil {
		return nil, nil, err
	}
	if act&(1<<ks.id) == 0 {
		return nil, nil, abort(CulpritNone, "signer set does not contain this party (%d)", ks.id)
	}
	x, w, wd, err := st.take(ks)
	if err != nil {
		return nil, nil, err
	}
	if err := ks.takeSession(); err != nil {
		clear(x)
		return nil, nil, err
	}
	part, err := p.partition(act)
	if err != nil {
		clear(x)
		return nil, nil, err
	}
	s := &Session{share: ks, p: p, sec: &sessionSecrets{x: x}, w: w, phase: phaseCommitted}
	runtime.AddCleanup(s, (*sessionSecrets).wipe, s.sec)
	s.cfg = SessionConfig{SessionID: cfg.SessionID, Signers: append([]int(nil), cfg.Signers...), Mu: cfg.Mu}
	for i, id := range s.cfg.Signers {
		if id == ks.id {
			s.pos = i
		}
	}
	if err := s.loadPartial(part[ks.id]); err != nil {
		s.wipe()
		return nil, nil, err
	}
	s.own = commitFromDigest(ks.pk, p, &s.cfg, ks.id, len(w), &wd)
	return s, &Commitment{Sender: ks.id, Hash: s.own}, nil
}

// loadPartial sums the assigned subset secrets into the partial secret and
// stores its NTT.
func (s *Session) loadPartial(masks []uint8) error {
	ks := s.share
	ks.mu.Lock()
	defer ks.mu.Unlock()
	var s1 [fips204.L][fips204.N]int32
	var s2 [fips204.K][fips204.N]int32
	defer func() { clear(s1[:]); clear(s2[:]) }()
	for _, m := range masks {
		found := false
		for k := range ks.sec.subs {
			sub := &ks.sec.subs[k]
			if sub.mask != m {
				continue
			}
			found = true
			for i := range sub.s1 {
				for j, c := range sub.s1[i] {
					s1[i][j] += int32(c)
				}
			}
			for i := range sub.s2 {
				for j, c := range sub.s2[i] {
					s2[i][j] += int32(c)
				}
			}
		}
		if !found {
			return fmt.Errorf("mldsa: key share lacks the secret of subset %06b", m)
		}
	}
	for i := range s1 {
		s.sec.s1Hat[i].FromInt(&s1[i])
		s.sec.s1Hat[i].NTT()
		s.sec.s1Hat[i].ToMont()
	}
	for i := range s2 {
		s.sec.s2Hat[i].FromInt(&s2[i])
		s.sec.s2Hat[i].NTT()
		s.sec.s2Hat[i].ToMont()
	}
	return nil
}

// wipe erases all secret state of the session.
func (s *Session) wipe() { s.sec.wipe() }

// Abort ends the session and erases its secrets, e.g. when the coordinator
// gives up on it. Later calls of Round2 or Round3 return ErrWrongPhase.
func (s *Session) Abort() {
	s.wipe()
	s.phase = phaseAborted
}

// Format implements fmt.Formatter so that no verb ever prints a secret.
func (s *Session) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "mldsa.Session{party %d, signers %v, phase %d, secrets redacted}", s.share.id, s.cfg.Signers, s.phase)
}

// Format implements fmt.Formatter so that no verb ever prints a secret.
func (st *Round1State) Format(f fmt.State, _ rune) {
	fmt.Fprint(f, "mldsa.Round1State{secrets redacted}")
}

// fail aborts the session.
func (s *Session) fail(err error) error {
	s.wipe()
	s.phase = phaseAborted
	return err
}

// order checks that senders are exactly the signer set (each once) and
// returns, for each signer position, the index of its message.
func order(signers []int, senders []int) ([]int, error) {
	idx := make([]int, len(signers))
	for i := range idx {
		idx[i] = -1
	}
	for k, snd := range senders {
		pos := -1
		for i, id := range signers {
			if id == snd {
				pos = i
			}
		}
		if pos < 0 {
			return nil, abort(snd, "message from party %d, which is not in the signer set", snd)
		}
		if idx[pos] >= 0 {
			return nil, abort(snd, "two messages from party %d", snd)
		}
		idx[pos] = k
	}
	for i, k := range idx {
		if k < 0 {
			return nil, abort(signers[i], "no message from party %d", signers[i])
		}
	}
	return idx, nil
}

// Round2 takes the commitments of all T signers (in any order, including
// this party's own) and returns this party's reveal.
func (s *Session) Round2(cmts []*Commitment) (*Reveal, error) {
	if s.phase != phaseCommitted {
		return nil, ErrWrongPhase
	}
	senders := make([]int, len(cmts))
	for i, c := range cmts {
		if c == nil {
			return nil, s.fail(abort(CulpritNone, "nil commitment"))
		}
		senders[i] = c.Sender
	}
	idx, err := order(s.cfg.Signers, senders)
	if err != nil {
		return nil, s.fail(err)
	}
	s.cmts = make([][commitHashSize]byte, len(idx))
	for pos, k := range idx {
		s.cmts[pos] = cmts[k].Hash
	}
	if subtle.ConstantTimeCompare(s.own[:], s.cmts[s.pos][:]) != 1 {
		return nil, s.fail(abort(s.share.id, "the commitment attributed to this party is not its own"))
	}
	s.phase = phaseRevealed
	return &Reveal{Sender: s.share.id, Slots: s.p.K, w: s.w}, nil
}

// orderReveals orders the reveals by signer position and checks their slot
// counts.
func orderReveals(p Params, cfg *SessionConfig, revs []*Reveal) ([]*Reveal, error) {
	senders := make([]int, len(revs))
	for i, r := range revs {
		if r == nil {
			return nil, abort(CulpritNone, "nil reveal")
		}
		senders[i] = r.Sender
	}
	idx, err := order(cfg.Signers, senders)
	if err != nil {
		return nil, err
	}
	out := make([]*Reveal, len(idx))
	for pos, k := range idx {
		r := revs[k]
		if r.Slots != p.K || len(r.w) != p.K*revealSlotSize {
			return nil, abort(r.Sender, "reveal has %d slots, want %d", r.Slots, p.K)
		}
		out[pos] = r
	}
	return out, nil
}

// verifyReveals checks each ordered reveal against its commitment. A reveal
// whose bytes equal known (this party's own w, whose commitment was already
// checked in Round2) is accepted without hashing it again.
func verifyReveals(pk *PublicKey, p Params, cfg *SessionConfig, cmts [][commitHashSize]byte, ordered []*Reveal, knownSender int, known []byte) error {
	for pos, r := range ordered {
		if r.Sender == knownSender && bytes.Equal(r.w, known) {
			continue
		}
		h := commitHash(pk, p, cfg, r.Sender, r.w)
		if subtle.ConstantTimeCompare(h[:], cmts[pos][:]) != 1 {
			return abort(r.Sender, "reveal does not match its commitment")
		}
	}
	return nil
}

// sumW adds the slot-j commitments of all reveals into w (mod q).
func sumW(w *fips204.VecK, revs []*Reveal, j int) {
	for i := range w {
		o := j*revealSlotSize + i*fips204.PolyW23Size
		for k, r := range revs {
			// Range was checked when the reveal was decoded or built.
			if k == 0 {
				_ = fips204.UnpackW23(&w[i], r.w[o:o+fips204.PolyW23Size])
			} else {
				_ = fips204.AddW23(&w[i], r.w[o:o+fips204.PolyW23Size])
			}
		}
	}
}

// revealChallenges checks each ordered reveal against its commitment (as
// verifyReveals does, with the same culprit on failure) and returns the K
// challenge seeds c̃_j = H(μ ‖ w1Encode(HighBits(Σ_i w_ij)), 48). It works
// slot by slot, hashing each reveal's slot for the commitment check and
// summing it while it is in cache; it touches public data only, and the
// caller uses the seeds (with its secrets) only after the check passed.
func revealChallenges(pk *PublicKey, p Params, cfg *SessionConfig, cmts [][commitHashSize]byte, ordered []*Reveal, knownSender int, known []byte) ([]byte, error) {
	hs := make([]hash.Hash, len(ordered))
	for pos, r := range ordered {
		if r.Sender == knownSender && bytes.Equal(r.w, known) {
			continue // this party's own w, checked in Round2
		}
		hs[pos] = newWDigester(len(r.w))
	}
	cTildes := make([]byte, p.K*fips204.CTildeSize)
	var w fips204.VecK
	for j := 0; j < p.K; j++ {
		for pos, h := range hs {
			if h != nil {
				h.Write(ordered[pos].w[j*revealSlotSize : (j+1)*revealSlotSize])
			}
		}
		sumW(&w, ordered, j)
		fips204.ChallengeHash(cTildes[j*fips204.CTildeSize:(j+1)*fips204.CTildeSize], &cfg.Mu, &w)
	}
	var wd [commitHashSize]byte
	for pos, h := range hs {
		if h == nil {
			continue
		}
		h.Sum(wd[:0])
		sum := commitFromDigest(pk, p, cfg, ordered[pos].Sender, len(ordered[pos].w), &wd)
		if subtle.ConstantTimeCompare(sum[:], cmts[pos][:]) != 1 {
			return nil, abort(ordered[pos].Sender, "reveal does not match its commitment")
		}
	}
	return cTildes, nil
}

// Round3 takes the reveals of all T signers, checks each against its
// commitment and returns this party's response. The session's secret state is
// erased whatever the outcome.
func (s *Session) Round3(revs []*Reveal) (*Response, error) {
	if s.phase != phaseRevealed {
		return nil, ErrWrongPhase
	}
	ordered, err := orderReveals(s.p, &s.cfg, revs)
	if err != nil {
		return nil, s.fail(err)
	}
	p := s.p
	cTildes, err := revealChallenges(s.share.pk, p, &s.cfg, s.cmts, ordered, s.share.id, s.w)
	if err != nil {
		return nil, s.fail(err)
	}
	// About a third of the slots pass the local test (1/M^{1/T}); reserve
	// room for a little more so that z rarely needs to grow.
	resp := &Response{Sender: s.share.id, Slots: p.K, accept: make([]byte, (p.K+7)/8),
		z: make([]byte, 0, (p.K/2+1)*zSlotSize)}
	var (
		c, t fips204.Poly
		z    [fips204.L][fips204.N]int32
	)
	r2 := p.R * p.R
	invNu := 1 / p.Nu
	for j := 0; j < p.K; j++ {
		x := s.sec.x[j*dimAll : (j+1)*dimAll]
		fips204.SampleInBall(&c, cTildes[j*fips204.CTildeSize:(j+1)*fips204.CTildeSize])
		c.NTT()
		var norm float64
		ok := true
		for i := 0; i < fips204.L; i++ {
			t.MulMont(&c, &s.sec.s1Hat[i])
			t.InvNTT()
			xi := x[i*fips204.N : (i+1)*fips204.N]
			for k, v := range t {
				cv := fips204.Centered(v)
				f := (xi[k] + float64(cv)) * invNu
				norm += f * f
				zz := roundCoord(xi[k]) + cv
				if zz <= -fips204.Gamma1 || zz >= fips204.Gamma1 {
					ok = false // does not fit the 20-bit encoding
				}
				z[i][k] = zz
			}
		}
		for i := 0; i < fips204.K; i++ {
			t.MulMont(&c, &s.sec.s2Hat[i])
			t.InvNTT()
			xi := x[dimY+i*fips204.N : dimY+(i+1)*fips204.N]
			for k, v := range t {
				f := xi[k] + float64(fips204.Centered(v))
				norm += f * f
			}
		}
		if !ok || norm > r2 {
			continue
		}
		resp.accept[j/8] |= 1 << (j % 8)
		resp.z = append(resp.z, make([]byte, zSlotSize)...)
		zb := resp.z[len(resp.z)-zSlotSize:]
		for i := range z {
			fips204.PackZ(zb[i*fips204.PolyZSize:], &z[i])
		}
	}
	clear(z[:])
	s.wipe()
	s.phase = phaseDone
	return resp, nil
}
