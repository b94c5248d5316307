package oracle

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	tecdsa "github.com/cc-tsa/cc-tsa/dkg/ecdsa"
	"github.com/cc-tsa/cc-tsa/dkg/mldsa"
)

// Envelope kinds of the relayed protocols.
const (
	envMLDSASign    = wire.EnvMLDSASign
	envECDSASign    = wire.EnvECDSASign
	envMLDSADKG     = wire.EnvMLDSADKG
	envECDSADKG     = wire.EnvECDSADKG
	envECDSAPresign = wire.EnvECDSAPresign
	envECDSAConfirm = wire.EnvECDSAConfirm
)

// MaxAttempts bounds the ML-DSA attempts of one signing session. Each
// attempt succeeds with probability at least 1/2.
const MaxAttempts = 24

// thresholdKeys are this oracle's shares of the two threshold keys.
type thresholdKeys struct {
	self    uint8
	mldsa   *mldsa.KeyShare
	mldsaPK *mldsa.PublicKey
	params  mldsa.Params
	// ecdsa and signer are the current ECDSA share and its Signer; a share
	// refresh replaces both (refresh.go), so they are read with ecdsaState
	// and guarded by mu.
	ecdsa    *tecdsa.KeyShare
	signer   *tecdsa.Signer
	ecdsaPub []byte
	mldsaPub []byte
	// keyID binds every signing envelope to this pair of keys.
	keyID [32]byte

	pool chan *mldsa.Round1State
	stop chan struct{}
	once sync.Once
	// inSession reports whether the oracle has a signing session open; the
	// pool filler yields to sessions unless the pool is empty, so that a
	// token's rounds do not share the CPU with refills.
	inSession func() bool

	// skew is added to the wall clock for the age limits of runs, pair
	// setups, presignatures and session ids (tests inject time with it).
	skew atomic.Int64

	mu      sync.Mutex
	presigs map[wire.PresignID]*presigEntry // at most MaxPresignatures, pruned when used or expired
	runs    runTable[presignState]          // presigning relay sessions in progress, at most MaxPresignRuns
	pairs   runTable[pairState]             // pair setups in progress, at most MaxPairRuns
	// confirmSigs are the ten key-confirmation signatures (public), kept to
	// hand to a replacement node.
	confirmSigs [][]byte
	// refresh is the ECDSA share refresh in progress, if any (at most one);
	// refreshSeen the refresh session ids started on the current sharing.
	refresh     *refreshRun
	refreshSeen map[[32]byte]bool
}

// ecdsaState returns the current ECDSA share and its Signer.
func (k *thresholdKeys) ecdsaState() (*tecdsa.KeyShare, *tecdsa.Signer) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ecdsa, k.signer
}

type presigEntry struct {
	ps      *tecdsa.Presignature
	signers []int
}

func newThresholdKeys(self uint8, ms *mldsa.KeyShare, es *tecdsa.KeyShare, poolSize int, inSession func() bool) (*thresholdKeys, error) {
	k := &thresholdKeys{
		self: self, mldsa: ms, mldsaPK: ms.PublicKey(), params: ms.Params(),
		ecdsa: es, ecdsaPub: es.PublicKeyBytes(), mldsaPub: ms.PublicKey().Bytes(),
		pool: make(chan *mldsa.Round1State, poolSize), stop: make(chan struct{}), inSession: inSession,
		presigs: make(map[wire.PresignID]*presigEntry), runs: newRunTable("presigning session", MaxPresignRuns, PresignRunMaxAge, 3, (*presignState).abort),
		pairs: newRunTable[pairState]("pair setup", MaxPairRuns, PairRunMaxAge, 6, nil),
	}
	signer, err := tecdsa.NewSigner(es, tecdsa.SignerConfig{
		Rand: rand.Reader, MaxPresignatures: MaxPresignatures, MaxAge: PresignatureMaxAge,
		SessionMaxAge: PresignRunMaxAge, MaxSessions: MaxPresignSessionIDs, Now: k.now,
	})
	if err != nil {
		return nil, err
	}
	k.signer = signer
	k.keyID = wire.ClusterKeyID(k.mldsaPub, k.ecdsaPub)
	go k.fillPool()
	return k, nil
}

// fillPool keeps the ML-DSA round-1 pool full. Round-1 states are secret,
// single-use and live in memory only. While a session is open the filler
// waits, unless the pool is empty.
func (k *thresholdKeys) fillPool() {
	for {
		for len(k.pool) > 0 && k.inSession() {
			select {
			case <-k.stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
		st, err := k.mldsa.Round1(nil)
		if err != nil {
			return
		}
		select {
		case k.pool <- st:
		case <-k.stop:
			st.Discard()
			return
		}
	}
}

// round1 takes a precomputed round-1 state, or computes one if the pool
// is empty.
func (k *thresholdKeys) round1() (*mldsa.Round1State, error) {
	select {
	case st := <-k.pool:
		return st, nil
	default:
		return k.mldsa.Round1(nil)
	}
}

func (k *thresholdKeys) poolLevel() uint16 { return uint16(len(k.pool)) }

// now is the clock of the age limits: the wall clock plus the injected
// skew.
func (k *thresholdKeys) now() time.Time { return time.Now().Add(time.Duration(k.skew.Load())) }

func (k *thresholdKeys) presignatures() uint16 {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.pruneRunsLocked()
	return uint16(len(k.presigs))
}

// banned returns the parties this oracle's ECDSA signer has banned.
func (k *thresholdKeys) banned() []uint8 {
	var out []uint8
	_, signer := k.ecdsaState()
	for _, b := range signer.Bans() {
		out = append(out, uint8(b.Party))
	}
	return out
}

func (k *thresholdKeys) close() {
	k.once.Do(func() {
		close(k.stop)
		for {
			select {
			case st := <-k.pool:
				st.Discard()
			default:
				k.mu.Lock()
				clear(k.presigs)
				k.runs.clearLocked()
				k.pairs.clearLocked()
				k.mu.Unlock()
				return
			}
		}
	})
}

// takePresignature removes the presignature id from the pool; it must have
// been made by exactly the given signer set.
func (k *thresholdKeys) takePresignature(id wire.PresignID, signers []int) (*tecdsa.Presignature, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	e, ok := k.presigs[id]
	if !ok {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: "unknown or used presignature"}
	}
	delete(k.presigs, id)
	if !e.ps.Usable() {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: "presignature expired"}
	}
	if !equalInts(e.signers, signers) {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("presignature belongs to signer set %v, not %v", e.signers, signers)}
	}
	return e.ps, nil
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// MaxConcurrentAttempts bounds the ML-DSA attempts of one session that run
// at the same time (an idle coordinator runs two at once to cut latency).
const MaxConcurrentAttempts = 2

// thSession is the threshold part of one signing session.
type thSession struct {
	mu       sync.Mutex // serialises the rounds of this session
	keys     *thresholdKeys
	id       wire.SessionID
	sid      [32]byte // the envelope session id
	signers  []uint8
	cfgBase  mldsa.SessionConfig
	started  map[int]bool // attempts ever started: each index at most once
	attempts map[int]*attemptState
	// presig is taken by the online ECDSA share; it is not guarded by mu,
	// so that the share need not wait for a concurrent ML-DSA attempt's
	// round to finish.
	presig atomic.Pointer[tecdsa.Presignature]
}

// attemptState is one ML-DSA attempt: its own mask (a fresh round-1 state),
// so that no mask ever answers two challenges.
type attemptState struct {
	phase int // 0 committed, 1 revealed, 2 responded
	sess  *mldsa.Session
	// own holds this signer's latest envelope of the attempt, so that the
	// copy relayed back to it is compared instead of re-verified (or, when
	// the relay leaves it out, taken as is).
	own map[uint8][]byte
	// cmts are the signers' commitments of the attempt, by node id (this
	// signer's own from the start, the others' after the reveal round).
	// Reveal envelopes are signed over them: see peer.SealCommitted.
	cmts map[uint8][]byte
}

func (t *thSession) abort() {
	t.presig.Store(nil)
	if !t.mu.TryLock() {
		// A round is running; it ends the attempt itself when it fails,
		// and the session is gone from the table.
		return
	}
	defer t.mu.Unlock()
	t.endAttemptsLocked()
}

func (t *thSession) endAttemptsLocked() {
	for a, st := range t.attempts {
		if st.sess != nil {
			st.sess.Abort()
		}
		delete(t.attempts, a)
	}
}

func (t *thSession) endMLDSA() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.endAttemptsLocked()
}

func ecdsaSet(signers []uint8) []int {
	out := make([]int, len(signers))
	for i, s := range signers {
		out[i] = int(s)
	}
	return out
}

func mldsaSet(signers []uint8) []int {
	out := make([]int, len(signers))
	for i, s := range signers {
		out[i] = int(s) - 1
	}
	return out
}

// beginThreshold starts the threshold part of a session: it takes the
// presignature (if the session signs with ECDSA) and a round-1 state, and
// returns the first ML-DSA envelope (the commitment).
func (o *Oracle) beginThreshold(s *session, presign *wire.PresignID) ([]byte, error) {
	o.mu.Lock()
	k := o.th
	o.mu.Unlock()
	if k == nil {
		return nil, &wire.Error{Code: wire.CodeNotReady, Message: "no threshold keys"}
	}
	t := &thSession{keys: k, id: s.id, sid: wire.EnvelopeSession(s.id), signers: s.signers, started: map[int]bool{}, attempts: map[int]*attemptState{}}
	if presign != nil {
		ps, err := k.takePresignature(*presign, ecdsaSet(s.signers))
		if err != nil {
			return nil, err
		}
		t.presig.Store(ps)
	}
	mu, err := k.mldsaPK.Mu(s.mldsaMsg, nil)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	t.cfgBase = mldsa.SessionConfig{Signers: mldsaSet(s.signers), Mu: mu}
	env, err := o.newAttempt(t, 0)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	s.th = t
	o.mu.Unlock()
	return env, nil
}

// newAttempt starts ML-DSA attempt a and returns the sealed commitment.
// Each attempt index starts at most once, with a fresh round-1 state, and
// at most MaxConcurrentAttempts run unfinished at once.
func (o *Oracle) newAttempt(t *thSession, a int) ([]byte, error) {
	live := 0
	for _, st := range t.attempts {
		if st.phase < 2 {
			live++
		}
	}
	if t.started[a] || a >= MaxAttempts || live >= MaxConcurrentAttempts {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("ML-DSA attempt %d cannot start now (%d running)", a, live)}
	}
	st, err := t.keys.round1()
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: "ML-DSA round 1: " + err.Error()}
	}
	cfg := t.cfgBase
	cfg.SessionID = wire.MLDSAAttemptID(t.id, t.keys.keyID, a)
	sess, cmt, err := t.keys.mldsa.NewSession(st, cfg)
	if err != nil {
		if errors.Is(err, mldsa.ErrBudgetExhausted) {
			o.log.Error("ML-DSA signing budget of this key share is exhausted: a new key ceremony is needed")
			return nil, &wire.Error{Code: wire.CodeRefused, Message: err.Error()}
		}
		return nil, &wire.Error{Code: wire.CodeInternal, Message: "ML-DSA session: " + err.Error()}
	}
	payload, err := cmt.MarshalBinary()
	if err != nil {
		sess.Abort()
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	r := uint8(3*a + 1)
	env, err := o.seal(envMLDSASign, t.keys.keyID, t.sid, uint16(r), peer.Broadcast, payload, false)
	if err != nil {
		sess.Abort()
		return nil, err
	}
	t.attempts[a] = &attemptState{sess: sess, own: map[uint8][]byte{r: env}, cmts: map[uint8][]byte{o.cfg.NodeID: cmt.Hash[:]}}
	t.started[a] = true
	return env, nil
}

// thresholdMLDSARound answers round r of the ML-DSA protocol: attempt
// a = (r-1)/3, phase (r-1)%3 = commitment, reveal or response.
func (o *Oracle) thresholdMLDSARound(s *session, req *wire.RoundRequest) ([]byte, error) {
	o.mu.Lock()
	t := s.th
	busy := s.stage != stageBegun
	o.mu.Unlock()
	if t == nil || busy {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "ML-DSA rounds are not expected in this session"}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	a, phase := (int(req.Round)-1)/3, (int(req.Round)-1)%3
	if phase == 0 {
		if len(req.Inbound) != 0 {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "a commitment round has no inbound messages"}
		}
		return o.newAttempt(t, a)
	}
	st := t.attempts[a]
	if st == nil || st.phase != phase-1 || st.sess == nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("ML-DSA round %d (attempt %d) is not expected now", req.Round, a)}
	}
	fail := func(err error) ([]byte, error) {
		st.sess.Abort()
		delete(t.attempts, a)
		return nil, err
	}
	// The reveals (phase 2) open the commitments of phase 1: their
	// envelopes are signed over those, and Round3 checks every reveal
	// against its commitment before it uses it.
	var committed map[uint8][]byte
	if phase == 2 {
		committed = st.cmts
	}
	payloads, err := o.openRound(req.Inbound, envMLDSASign, t.keys.keyID, t.sid, req.Round-1, t.signers, st.own[req.Round-1], committed)
	if err != nil {
		return fail(err)
	}
	var env []byte
	if phase == 1 {
		cmts := make([]*mldsa.Commitment, 0, len(payloads))
		for _, p := range payloads {
			c := new(mldsa.Commitment)
			if err := c.UnmarshalBinary(p.data); err != nil {
				return fail(culprit(p.from, "commitment", err))
			}
			if c.Sender != int(p.from)-1 {
				// Signed by p.from: naming another party is its fault.
				return fail(culprit(p.from, "commitment", fmt.Errorf("claims party %d as sender", c.Sender)))
			}
			if p.from != o.cfg.NodeID {
				st.cmts[p.from] = c.Hash[:]
			}
			cmts = append(cmts, c)
		}
		rev, err := st.sess.Round2(cmts)
		if err != nil {
			return fail(abortError(err))
		}
		payload, err := rev.MarshalBinary()
		if err != nil {
			return fail(&wire.Error{Code: wire.CodeInternal, Message: err.Error()})
		}
		h := peer.Header{Kind: envMLDSASign, KeyID: t.keys.keyID, Session: t.sid, Round: uint16(req.Round), Sender: o.cfg.NodeID, Receiver: peer.Broadcast}
		e, err := o.identity.SealCommitted(h, payload, st.cmts[o.cfg.NodeID])
		if err == nil {
			env, err = e.Marshal()
		}
		if err != nil {
			return fail(&wire.Error{Code: wire.CodeInternal, Message: err.Error()})
		}
	} else {
		revs := make([]*mldsa.Reveal, 0, len(payloads))
		for _, p := range payloads {
			r := new(mldsa.Reveal)
			if err := r.UnmarshalBinary(p.data); err != nil {
				return fail(unauthenticated(p.from, "reveal", err))
			}
			revs = append(revs, r)
		}
		resp, err := st.sess.Round3(revs)
		st.sess = nil // Round3 consumes the attempt's secrets whatever the outcome
		if err != nil {
			delete(t.attempts, a)
			return nil, revealError(err)
		}
		if env, err = o.sealMsg(envMLDSASign, t.keys.keyID, t.sid, req.Round, resp); err != nil {
			delete(t.attempts, a)
			return nil, err
		}
	}
	st.phase = phase
	clear(st.own)
	st.own[req.Round] = env
	return env, nil
}

// thresholdECDSAShare computes this signer's online ECDSA share.
func (o *Oracle) thresholdECDSAShare(s *session, digest []byte) ([]byte, error) {
	t := s.th
	if t == nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "this session has no presignature"}
	}
	ps := t.presig.Swap(nil)
	if ps == nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "this session has no presignature"}
	}
	share, err := tecdsa.Sign(ps, digest)
	if err != nil {
		return nil, abortError(err)
	}
	return o.sealMsg(envECDSASign, t.keys.keyID, t.sid, 1, share)
}

type binaryMarshaler interface{ MarshalBinary() ([]byte, error) }

func (o *Oracle) sealMsg(kind uint8, keyID, sid [32]byte, round uint8, m binaryMarshaler) ([]byte, error) {
	payload, err := m.MarshalBinary()
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	return o.seal(kind, keyID, sid, uint16(round), peer.Broadcast, payload, false)
}

// seal signs (and, if confidential, encrypts) one envelope.
func (o *Oracle) seal(kind uint8, keyID, sid [32]byte, round uint16, to uint8, payload []byte, confidential bool) ([]byte, error) {
	h := peer.Header{Kind: kind, KeyID: keyID, Session: sid, Round: round, Sender: o.cfg.NodeID, Receiver: to}
	var pk *peer.PublicKeys
	if confidential {
		o.mu.Lock()
		p, ok := o.peers[to]
		o.mu.Unlock()
		if !ok {
			return nil, &wire.Error{Code: wire.CodeNotReady, Message: fmt.Sprintf("no identity key for node %d", to)}
		}
		pk = &p
	}
	e, err := o.identity.Seal(h, payload, pk)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	b, err := e.Marshal()
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	return b, nil
}

type inbound struct {
	from   uint8
	data   []byte
	direct bool // addressed to this oracle alone
}

// openRound opens the envelopes of one signing round: exactly one
// broadcast from every member of the signer set, each signed by that
// member. This oracle's own envelope (own) comes back byte for byte, and is
// compared rather than verified again, or empty (the relay need not send
// it back), and is then taken as this oracle produced it. With committed
// set, the envelopes open commitments (peer.OpenCommitted) and are checked
// against committed[sender].
func (o *Oracle) openRound(msgs []wire.RoundMessage, kind uint8, keyID, sid [32]byte, round uint8, signers []uint8, own []byte, committed map[uint8][]byte) ([]inbound, error) {
	if len(msgs) != len(signers) {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%d messages for %d signers", len(msgs), len(signers))}
	}
	out := make([]inbound, 0, len(msgs))
	for i, m := range msgs {
		if m.From != signers[i] {
			return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("message from node %d where node %d was expected", m.From, signers[i])}
		}
		want := peer.Header{Kind: kind, KeyID: keyID, Session: sid, Round: uint16(round), Sender: m.From, Receiver: peer.Broadcast}
		var p []byte
		var err error
		switch {
		case m.From == o.cfg.NodeID && own != nil:
			if len(m.Payload) != 0 && !bytes.Equal(m.Payload, own) {
				return nil, &wire.Error{Code: wire.CodeRefused, Message: "this oracle's own message came back altered"}
			}
			p, err = peer.Decode(own, want)
		case committed != nil:
			p, err = o.openCommitted(m.Payload, want, committed[m.From])
		default:
			p, err = o.openEnvelope(m.Payload, want)
		}
		if err != nil {
			return nil, err
		}
		out = append(out, inbound{from: m.From, data: p})
	}
	return out, nil
}

// openEnvelope decodes an envelope and checks it against want with the
// sender's identity key.
func (o *Oracle) openEnvelope(raw []byte, want peer.Header) ([]byte, error) {
	return o.open(raw, want, nil)
}

// openCommitted decodes an envelope that opens a commitment and checks its
// signature over the commitment. The payload it returns is NOT yet
// authenticated: the caller checks it against the commitment and, because
// no signature covers those bytes, treats a mismatch as unauthenticated
// (see revealError), never as the sender's fault.
func (o *Oracle) openCommitted(raw []byte, want peer.Header, commitment []byte) ([]byte, error) {
	if commitment == nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("no commitment from node %d to open", want.Sender)}
	}
	return o.open(raw, want, commitment)
}

// open decodes an envelope from want.Sender and checks it: its signature
// over the payload, or with commitment set over that commitment
// (peer.OpenCommitted). Blame follows the signature. An envelope that does
// not decode, whose header is not want or whose signature does not verify
// may be the relay's doing and is refused as unauthenticated, naming no
// one; a signed ciphertext that does not decrypt is the sender's.
func (o *Oracle) open(raw []byte, want peer.Header, commitment []byte) ([]byte, error) {
	var e peer.Envelope
	if err := e.Unmarshal(raw); err != nil {
		return nil, unauthenticated(want.Sender, "envelope", err)
	}
	var from peer.PublicKeys
	if want.Sender == o.cfg.NodeID {
		from = o.identity.Public()
	} else {
		o.mu.Lock()
		p, ok := o.peers[want.Sender]
		o.mu.Unlock()
		if !ok {
			return nil, &wire.Error{Code: wire.CodeNotReady, Message: fmt.Sprintf("no identity key for node %d", want.Sender)}
		}
		from = p
	}
	var p []byte
	var err error
	if commitment != nil {
		p, err = peer.OpenCommitted(&e, from, want, commitment)
	} else {
		p, err = peer.Open(&e, from, want, o.identity)
	}
	switch {
	case errors.Is(err, peer.ErrDecrypt):
		return nil, culprit(want.Sender, "encrypted payload", err)
	case err != nil:
		return nil, unauthenticated(want.Sender, "authentication", err)
	}
	o.heardFrom(want.Sender)
	return p, nil
}

// culprit reports a message of node from that failed a check. Use it only
// when from's signature covers the bytes that failed: a payload from an
// envelope that verified (not a committed reveal, see revealError).
func culprit(from uint8, what string, err error) error {
	return &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("culprit node %d: %s: %v", from, what, err)}
}

// unauthenticated reports a relayed message, claiming to come from node
// from, that failed authentication. The relay can produce such a message,
// so the refusal (wire.CodeUnauthenticated) names no culprit; the claimed
// sender is mentioned only to locate the message.
func unauthenticated(from uint8, what string, err error) error {
	return &wire.Error{Code: wire.CodeUnauthenticated, Message: fmt.Sprintf("message claiming node %d as sender: %s: %v", from, what, err)}
}

// revealError maps a failure of ML-DSA round 3 to a refusal. Round 3 fails
// only on the reveals' contents (a sender, a slot count, or bytes that do
// not open their commitment), and reveal envelopes are signed over the
// commitment, not those bytes: the relay can alter them, so the refusal
// names no one.
func revealError(err error) error {
	var me *mldsa.AbortError
	if errors.As(err, &me) && me.Culprit >= 0 {
		return unauthenticated(uint8(me.Culprit+1), "reveal", errors.New(me.Reason))
	}
	return &wire.Error{Code: wire.CodeRefused, Message: "ML-DSA round 3: " + err.Error()}
}

// abortError turns a protocol abort into a refusal naming the culprit. The
// protocols run on payloads from envelopes that verified, so a culprit the
// protocol names signed the bytes that failed.
func abortError(err error) error {
	var me *mldsa.AbortError
	if errors.As(err, &me) && me.Culprit >= 0 {
		return &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("culprit node %d: %s", me.Culprit+1, me.Reason)}
	}
	var ee *tecdsa.AbortError
	if errors.As(err, &ee) && ee.Culprit > 0 {
		return &wire.Error{Code: wire.CodeRefused, Message: fmt.Sprintf("culprit node %d: %s", ee.Culprit, ee.Reason)}
	}
	var we *wire.Error
	if errors.As(err, &we) {
		return we
	}
	return &wire.Error{Code: wire.CodeRefused, Message: err.Error()}
}
