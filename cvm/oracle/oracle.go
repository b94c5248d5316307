// Package oracle is the signing oracle that runs inside a confidential VM.
//
// The oracle owns the keys (or key shares), the trusted clock and the
// encoding of everything it signs. It answers typed requests (package wire)
// and never parses ASN.1. A token is issued in one signing session:
//
//	Propose  (leader only)  the leader picks serial number and genTime
//	Begin    (every signer) checks the proposal against its own clock and
//	                        its record of serial numbers and session ids,
//	                        then encodes TSTInfo and the ML-DSA signed
//	                        attributes itself (and, in threshold mode,
//	                        commits to its first ML-DSA message)
//	Round    ML-DSA-65      the rounds of the ML-DSA signature scheme
//	Attach   (every signer) verifies the combined ML-DSA signature, encodes
//	                        the inner token and the ECDSA signed attributes
//	Round    ECDSA P-384    the rounds of the ECDSA signature scheme
//
// Two key modes sit behind the same messages. In the single-oracle
// development mode (wire.ModeWholeKey) the oracle holds whole keys and each
// scheme has one round. In threshold mode (wire.ModeThreshold) the oracle
// holds shares from the distributed key ceremony (package dkg): ML-DSA-65
// takes three rounds per attempt (round-1 states come from a precomputed
// pool) and ECDSA P-384 one online round on a presignature. Every message
// between oracles travels in an envelope signed with the sender's attested
// identity (package peer), so the coordinator that relays them can neither
// forge nor read them.
package oracle

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/peer"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cc-tsa/cc-tsa/timesync/crosscheck"
)

// Limits that bound the oracle's memory.
const (
	// MaxSessions bounds concurrently open signing sessions.
	MaxSessions = 4096
	// SessionLifetime is how long an unfinished session is kept.
	SessionLifetime = 30 * time.Second
	// maxRemembered bounds the replay record; when it holds this many
	// entries whose window is still open the oracle refuses new sessions
	// (busy). Each entry lives at most about 2·MaxAccuracy + the clock's
	// bound + replayStepMargin (see replay.go), so with the default
	// maximum accuracy the bound is reached only above about 300,000
	// sessions a second.
	maxRemembered = 1 << 20
)

// Time policy.
const (
	// DefaultMaxAccuracy is the default Config.MaxAccuracy.
	DefaultMaxAccuracy = time.Second
	// DefaultProposalSlack is the default Config.ProposalSlack.
	DefaultProposalSlack = 200 * time.Millisecond
	// peerBoundMargin is how much wider than its own bound a threshold
	// leader allows each peer's bound to be.
	peerBoundMargin = time.Millisecond
)

// Attester produces and checks attestation evidence. The production
// implementation asks the AMD SEV-SNP firmware; the development one is a
// simulated device and says so.
type Attester interface {
	// Kind says what backs the evidence.
	Kind() wire.Attestation
	// Evidence returns evidence whose report data binds statement (the
	// oracle's encoded membership claim, which holds its identity keys)
	// and nonce.
	Evidence(statement []byte, nonce [wire.NonceSize]byte) ([]byte, error)
	// VerifyPeer checks a peer's evidence for statement and nonce, against
	// the attestation policy (trusted roots, measurement, debug, TCB), and
	// returns the CHIP_ID it reports (empty if the platform masks it).
	VerifyPeer(evidence, statement []byte, nonce [wire.NonceSize]byte) (chip []byte, err error)
}

// Config configures an oracle.
type Config struct {
	// TSAName is the DER Name the oracle writes into TSTInfo's tsa field and
	// that its certificates must carry as subject.
	TSAName []byte
	// Clock is the oracle's time source.
	Clock clock.Clock
	// Logger receives the oracle's logs; nil means slog.Default().
	Logger *slog.Logger

	// NodeID (1-based), Nodes and Threshold place the oracle in a threshold
	// cluster. Nodes == 0 selects the single-oracle development mode.
	NodeID, Nodes, Threshold uint8
	// Attester attests the oracle and verifies its peers. Nil means no
	// attestation, which only tests use.
	Attester Attester
	// MLDSAPool is the number of ML-DSA round-1 states kept precomputed
	// (threshold mode); 0 means DefaultMLDSAPool.
	MLDSAPool int
	// CrossCheck is this oracle's side of the cross-node time check
	// (threshold mode; nil disables it), and OnVerdict receives each
	// round's verdict (normally the clock's health, which then trusts the
	// clock only while its peers agree).
	CrossCheck *crosscheck.Checker
	OnVerdict  func(ok bool, detail string)
	// SilenceBeforeChange is how long a node index must have sent no
	// authenticated message before this oracle endorses replacing its
	// identity (0 means DefaultSilenceBeforeChange). It guards against
	// mistakes only: the coordinator decides what an oracle hears.
	SilenceBeforeChange time.Duration
	// ChangeWindow is the window in which this oracle takes part in at
	// most Nodes − Threshold membership changes (0 means
	// DefaultChangeWindow).
	ChangeWindow time.Duration

	// MaxAccuracy is the widest accuracy this oracle accepts in a proposal
	// and claims as a leader; 0 means DefaultMaxAccuracy. It may not exceed
	// wire.MaxAccuracyMicros. It also sets how long the oracle remembers a
	// session id and serial number (see replay.go).
	MaxAccuracy time.Duration
	// ProposalSlack is the time a leader allows between its reading in
	// Propose and the last signer's reading in Begin; the accuracy it
	// claims grows by this much. 0 means DefaultProposalSlack.
	ProposalSlack time.Duration
}

// Oracle is one signing oracle. Its methods are safe for concurrent use.
type Oracle struct {
	cfg      Config
	log      *slog.Logger
	identity *peer.Identity
	whole    *wholeKeys // development mode only

	mu    sync.Mutex
	state wire.State
	th    *thresholdKeys // threshold mode, after the ceremony
	peers map[uint8]peer.PublicKeys
	// epoch is the digest of the current membership (see epochID).
	epoch    [32]byte
	ms       membershipState
	cer      *ceremony
	ecdsaRef *tst.CertRef
	mldsaRef *tst.CertRef
	sessions map[wire.SessionID]*session
	// lastSessionEnd is when a session last left the table.
	lastSessionEnd time.Time
	seen           *replayRecord
	faults         *Faults // test builds only (tag ccfault)
	// verdictRound is the last cross-node time-check round whose verdict
	// this oracle gave (see timeCheckStep).
	verdictRound atomic.Uint64
	// now is the monotonic time source of session lifetimes (time.Now;
	// tests move it instead of sleeping).
	now func() time.Time
}

// New creates an oracle. Without cfg.Nodes it is the single-oracle
// development mode: it generates whole ECDSA P-384 and ML-DSA-65 keys in
// memory, which is not threshold signing and is labelled so in its status
// and logs. With cfg.Nodes it is one threshold oracle that waits for the key
// ceremony. Either way it becomes Ready when its certificates are installed.
func New(cfg Config) (*Oracle, error) {
	if cfg.Clock == nil {
		return nil, errors.New("oracle: no clock configured")
	}
	if err := tst.CheckTSAName(cfg.TSAName); err != nil {
		return nil, fmt.Errorf("oracle: %w", err)
	}
	if cfg.MaxAccuracy == 0 {
		cfg.MaxAccuracy = DefaultMaxAccuracy
	}
	if cfg.ProposalSlack == 0 {
		cfg.ProposalSlack = DefaultProposalSlack
	}
	if cfg.MaxAccuracy < time.Millisecond || ceilMicros(cfg.MaxAccuracy) > wire.MaxAccuracyMicros {
		return nil, fmt.Errorf("oracle: maximum accuracy %v: want 1 ms to %v", cfg.MaxAccuracy, time.Duration(wire.MaxAccuracyMicros)*time.Microsecond)
	}
	if cfg.ProposalSlack < 0 || cfg.ProposalSlack >= cfg.MaxAccuracy {
		return nil, fmt.Errorf("oracle: proposal slack %v: want a positive duration below the maximum accuracy %v", cfg.ProposalSlack, cfg.MaxAccuracy)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	id, err := peer.NewIdentity()
	if err != nil {
		return nil, err
	}
	o := &Oracle{
		cfg:      cfg,
		identity: id,
		peers:    make(map[uint8]peer.PublicKeys),
		sessions: make(map[wire.SessionID]*session),
		seen:     newReplayRecord(maxRemembered),
		now:      time.Now,
		ms:       membershipState{challenges: map[[wire.NonceSize]byte]time.Time{}, retired: map[[32]byte]bool{}},
	}
	if o.cfg.SilenceBeforeChange <= 0 {
		o.cfg.SilenceBeforeChange = DefaultSilenceBeforeChange
	}
	if o.cfg.ChangeWindow <= 0 {
		o.cfg.ChangeWindow = DefaultChangeWindow
	}
	if cfg.Nodes == 0 {
		o.cfg.NodeID, o.cfg.Nodes, o.cfg.Threshold = 1, 1, 1
		if o.whole, err = generateWholeKeys(); err != nil {
			return nil, err
		}
		o.state = wire.StateBooting
		o.log = log.With("component", "oracle", "mode", wire.ModeWholeKey.String())
		o.log.Warn("single-oracle development mode: whole keys in one process, NOT THRESHOLD signing")
		return o, nil
	}
	if cfg.Threshold < 2 || cfg.Threshold > cfg.Nodes || cfg.Nodes > wire.MaxSigners || cfg.NodeID == 0 || cfg.NodeID > cfg.Nodes {
		return nil, fmt.Errorf("oracle: node %d of %d with threshold %d is not a valid cluster position", cfg.NodeID, cfg.Nodes, cfg.Threshold)
	}
	if o.cfg.MLDSAPool <= 0 {
		o.cfg.MLDSAPool = DefaultMLDSAPool
	}
	o.state = wire.StateCeremony
	o.log = log.With("component", "oracle", "node", cfg.NodeID)
	o.log.Info("threshold oracle started; waiting for the key ceremony", "nodes", cfg.Nodes, "threshold", cfg.Threshold, "attestation", o.attestation().String())
	return o, nil
}

func (o *Oracle) attestation() wire.Attestation {
	if o.cfg.Attester == nil {
		return wire.AttestationNone
	}
	return o.cfg.Attester.Kind()
}

func (o *Oracle) mode() wire.Mode {
	if o.whole != nil {
		return wire.ModeWholeKey
	}
	return wire.ModeThreshold
}

// DefaultMLDSAPool is the default number of precomputed ML-DSA round-1
// states: a token takes two attempts on average and fewer than six in
// about 98% of cases, each attempt consuming one state.
const DefaultMLDSAPool = 6

// refillQuiet is how long after its last session ended the oracle waits
// before it refills its pool: the coordinator is still combining and
// verifying that session's token, on the same CPUs in a small deployment.
const refillQuiet = 20 * time.Millisecond

// sessionsOpen reports whether a signing session is open or ended less
// than refillQuiet ago.
func (o *Oracle) sessionsOpen() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return len(o.sessions) > 0 || o.now().Sub(o.lastSessionEnd) < refillQuiet
}

// dropSessionLocked removes a session from the table (o.mu held).
func (o *Oracle) dropSessionLocked(id wire.SessionID) {
	if _, ok := o.sessions[id]; ok {
		delete(o.sessions, id)
		o.lastSessionEnd = o.now()
	}
}

// Status returns the oracle's current status.
func (o *Oracle) Status() *wire.Status {
	r := o.cfg.Clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	st := &wire.Status{
		State:               o.state,
		Mode:                o.mode(),
		NodeID:              o.cfg.NodeID,
		Threshold:           o.cfg.Threshold,
		Nodes:               o.cfg.Nodes,
		Attestation:         o.attestation(),
		ClockTrusted:        clock.Check(r) == nil,
		ClockSource:         r.Source,
		ClockAccuracyMicros: ceilMicros(r.Accuracy),
		TSAName:             o.cfg.TSAName,
		CertsInstalled:      o.ecdsaRef != nil,
	}
	if m := o.ms.current; m != nil {
		st.Cluster, st.Epoch = m.Cluster, m.Epoch
	}
	switch {
	case o.whole != nil:
		st.ECDSAPublicKey, st.MLDSAPublicKey = o.whole.ecdsaPub, o.whole.mldsaPub
		st.Label = "single oracle, whole keys: NOT THRESHOLD (development only)"
	case o.th != nil:
		st.ECDSAPublicKey, st.MLDSAPublicKey = o.th.ecdsaPub, o.th.mldsaPub
		st.MLDSAPool, st.Presignatures, st.Banned = o.th.poolLevel(), o.th.presignatures(), o.th.banned()
		share, _ := o.th.ecdsaState()
		st.ECDSASharing = share.SharingDigest()
		st.Label = fmt.Sprintf("threshold %d-of-%d, node %d", o.cfg.Threshold, o.cfg.Nodes, o.cfg.NodeID)
	default:
		st.Label = fmt.Sprintf("threshold %d-of-%d, node %d: no keys yet (ceremony pending)", o.cfg.Threshold, o.cfg.Nodes, o.cfg.NodeID)
	}
	if st.ECDSAPublicKey != nil {
		st.ECDSAKeyID, st.MLDSAKeyID = keyID(st.ECDSAPublicKey), keyID(st.MLDSAPublicKey)
	}
	if a := o.attestation(); a == wire.AttestationSimulated {
		st.Label += ", SIMULATED SEV-SNP attestation"
	}
	return st
}

// keyID is the subject key identifier of a public key: the first 160 bits
// of SHA-256 over the subjectPublicKey bits (RFC 7093, method 1).
func keyID(pub []byte) []byte {
	h := sha256.Sum256(pub)
	return h[:20]
}

// Install gives the oracle its certificates and makes it Ready.
func (o *Oracle) Install(req *wire.InstallRequest) error {
	for _, c := range []*tst.CertRef{&req.ECDSA, &req.MLDSA} {
		if err := tst.CheckCertRef(c); err != nil {
			return &wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.state == wire.StateStopping:
		return &wire.Error{Code: wire.CodeNotReady, Message: "oracle is stopping"}
	case o.whole == nil && o.th == nil:
		return &wire.Error{Code: wire.CodeNotReady, Message: "no keys yet: run the key ceremony first"}
	}
	ecdsaRef, mldsaRef := req.ECDSA, req.MLDSA
	o.ecdsaRef, o.mldsaRef = &ecdsaRef, &mldsaRef
	o.state = wire.StateReady
	o.log.Info("certificates installed; oracle ready")
	return nil
}

// Stop moves the oracle to Stopping: it refuses new sessions, drops open
// ones and erases its pools.
func (o *Oracle) Stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.state == wire.StateStopping {
		return
	}
	o.state = wire.StateStopping
	for id, s := range o.sessions {
		s.abort()
		o.dropSessionLocked(id)
	}
	if o.th != nil {
		o.th.close()
	}
	if o.cer != nil {
		o.cer.abort()
	}
}

// ceilMicros rounds d up to whole microseconds.
func ceilMicros(d time.Duration) uint64 {
	if d <= 0 {
		return 0
	}
	return uint64((d + time.Microsecond - 1) / time.Microsecond)
}

// readyReading checks state and clock and returns a usable reading.
func (o *Oracle) readyReading() (clock.Reading, error) {
	o.mu.Lock()
	st := o.state
	o.mu.Unlock()
	if st != wire.StateReady {
		return clock.Reading{}, &wire.Error{Code: wire.CodeNotReady, Message: "oracle is " + st.String()}
	}
	r := o.cfg.Clock.Now()
	if err := clock.Check(r); err != nil {
		return r, &wire.Error{Code: wire.CodeTimeNotAvailable, Message: "clock not trusted: " + r.Source}
	}
	if r.Accuracy > o.cfg.MaxAccuracy {
		return r, &wire.Error{Code: wire.CodeTimeNotAvailable, Message: fmt.Sprintf("clock bound %v is wider than the maximum accuracy %v", r.Accuracy, o.cfg.MaxAccuracy)}
	}
	return r, nil
}

// Propose chooses the serial number and time of a new token for the
// signer set req.Signers. Only the session's leader is asked.
func (o *Oracle) Propose(req *wire.ProposeRequest) (*wire.Proposal, error) {
	r, err := o.readyReading()
	if err != nil {
		return nil, err
	}
	if err := o.checkSigners(req.Signers); err != nil {
		return nil, err
	}
	acc, err := o.proposedAccuracy(r.Accuracy)
	if err != nil {
		return nil, err
	}
	t := r.Time.UTC().Truncate(time.Microsecond)
	serial, err := newSerial(t, req.Signers)
	if err != nil {
		return nil, err
	}
	return &wire.Proposal{
		Serial:         serial,
		GenTimeUnix:    t.Unix(),
		GenTimeNanos:   uint32(t.Nanosecond()),
		AccuracyMicros: ceilMicros(acc),
	}, nil
}

// proposedAccuracy is the accuracy a leader with clock bound b claims. Every
// signer accepts a proposal only if the token's interval contains its own
// interval at the time of its Begin (see checkProposalTime), so the claim
// covers, rounded up to whole milliseconds:
//
//   - b: how far genTime (the leader's reading) may be from true time;
//   - the slack (Config.ProposalSlack): the time from the leader's reading to
//     the last signer's reading;
//   - in threshold mode, twice a peer's bound, taken as b + peerBoundMargin:
//     a peer's reading may be that far from true time, and its own interval
//     reaches that far beyond its reading.
//
// So a single oracle claims b + slack, and a threshold leader 3b + 2 ms +
// slack: while every clock's bound holds, every peer whose bound is at most
// 1 ms wider than the leader's accepts the proposal within the slack. A
// claim wider than Config.MaxAccuracy is not made: the leader refuses (time
// not available) and the coordinator may ask another leader.
func (o *Oracle) proposedAccuracy(b time.Duration) (time.Duration, error) {
	a := b + o.cfg.ProposalSlack
	if o.whole == nil {
		a += 2 * (b + peerBoundMargin)
	}
	a = (a + time.Millisecond - 1) / time.Millisecond * time.Millisecond
	if a > o.cfg.MaxAccuracy {
		return 0, &wire.Error{Code: wire.CodeTimeNotAvailable, Message: fmt.Sprintf("clock bound %v needs an accuracy of %v, more than the maximum %v", b, a, o.cfg.MaxAccuracy)}
	}
	return a, nil
}

// genTime returns the genTime of a proposal.
func genTime(p *wire.Proposal) time.Time {
	return time.Unix(p.GenTimeUnix, int64(p.GenTimeNanos))
}

// checkProposalTime applies a signer's time check to a proposal with genTime
// g and accuracy A, given this oracle's reading t with bound b and its
// maximum accuracy: it accepts only if A ≤ maxAcc and the token's interval
// [g−A, g+A] contains this oracle's interval [t−b, t+b]. There is no further
// allowance for age: a proposal is usable only while the true time, which
// lies in the oracle's interval, also lies in the token's.
// lateness is how far the token's interval ends before this oracle's
// begins (0 if it does not).
func lateness(p *wire.Proposal, r clock.Reading) time.Duration {
	end := genTime(p).Add(time.Duration(p.AccuracyMicros) * time.Microsecond)
	return max(0, r.Time.Add(r.Accuracy).Sub(end))
}

func checkProposalTime(p *wire.Proposal, r clock.Reading, maxAcc time.Duration) error {
	g := genTime(p)
	a := time.Duration(p.AccuracyMicros) * time.Microsecond
	lo, hi := r.Time.Add(-r.Accuracy), r.Time.Add(r.Accuracy)
	gs := g.UTC().Format(time.RFC3339Nano)
	switch {
	case a > maxAcc:
		return fmt.Errorf("proposed accuracy %v is too wide: this oracle's maximum is %v", a, maxAcc)
	case g.Add(-a).After(lo):
		return fmt.Errorf("proposed genTime %s ± %v is ahead of this oracle's clock: the token's interval starts %v after this oracle's (bound %v)", gs, a, g.Add(-a).Sub(lo), r.Accuracy)
	case g.Add(a).Before(hi):
		return fmt.Errorf("proposed genTime %s ± %v is behind this oracle's clock: the token's interval ends %v before this oracle's (bound %v)", gs, a, hi.Sub(g.Add(a)), r.Accuracy)
	}
	return nil
}

// Serial numbers. A token's serial number is 16 octets, the content of a
// positive, minimally encoded INTEGER:
//
//	octet 0      0x40 | the signer set as a bit mask (bit i−1: node i)
//	octets 1–8   genTime in microseconds since the Unix epoch, big endian
//	octets 9–15  random
//
// Every signer checks the embedded set and time against its Begin request,
// so two tokens with one serial number have one signer set, which holds an
// honest signer, and one genTime, which that signer accepts only within the
// window its replay record covers: it refuses the second. Uniqueness does not
// depend on the random octets, which only make serials unpredictable.
const (
	serialLen    = 16
	serialRandom = 7
	serialMarker = 0x40
)

// signerMask returns the bit mask of a signer set of node ids 1..6.
func signerMask(signers []uint8) uint8 {
	var m uint8
	for _, id := range signers {
		m |= 1 << (id - 1)
	}
	return m
}

// newSerial returns a fresh serial number for genTime t and the signer set.
func newSerial(t time.Time, signers []uint8) ([]byte, error) {
	s := make([]byte, serialLen)
	s[0] = serialMarker | signerMask(signers)
	binary.BigEndian.PutUint64(s[1:9], uint64(t.UnixMicro()))
	if _, err := randRead(s[serialLen-serialRandom:]); err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: "randomness: " + err.Error()}
	}
	return s, nil
}

// checkSerial checks that a proposal's serial number embeds its genTime and
// the request's signer set.
func checkSerial(p *wire.Proposal, signers []uint8) error {
	s := p.Serial
	if len(s) != serialLen || s[0]&0xc0 != serialMarker {
		return fmt.Errorf("serial number %x is not in this TSA's format (%d octets, 0x40 | signer set first)", s, serialLen)
	}
	if m := signerMask(signers); s[0]&0x3f != m {
		return fmt.Errorf("serial number %x names signer set %#02x, the request %v (%#02x)", s, s[0]&0x3f, signers, m)
	}
	if us, want := int64(binary.BigEndian.Uint64(s[1:9])), genTime(p).UnixMicro(); us != want {
		return fmt.Errorf("serial number %x embeds genTime %dµs, the proposal %dµs", s, us, want)
	}
	return nil
}
