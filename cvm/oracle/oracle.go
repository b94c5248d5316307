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
	"errors"
	"fmt"
	"log/slog"
	"sync"
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
	// MaxProposalAge is how far in the past a proposed genTime may lie when
	// a signer begins a session. Serial numbers and session ids are
	// remembered for longer than this, so a replay is always caught either
	// by the record or by the age check.
	MaxProposalAge = 10 * time.Second
	// replayMemory is how long serial numbers and session ids are kept.
	replayMemory = 2 * (MaxProposalAge + SessionLifetime)
	// maxRemembered bounds the replay record; when it is full of entries
	// younger than replayMemory the oracle refuses new sessions (busy).
	maxRemembered = 1 << 20
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
		seen:     newReplayRecord(),
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
	return len(o.sessions) > 0 || time.Since(o.lastSessionEnd) < refillQuiet
}

// dropSessionLocked removes a session from the table (o.mu held).
func (o *Oracle) dropSessionLocked(id wire.SessionID) {
	if _, ok := o.sessions[id]; ok {
		delete(o.sessions, id)
		o.lastSessionEnd = time.Now()
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
	if ceilMicros(r.Accuracy) > wire.MaxAccuracyMicros {
		return r, &wire.Error{Code: wire.CodeTimeNotAvailable, Message: "clock bound too wide"}
	}
	return r, nil
}

// Propose chooses the serial number and time of a new token. Only the
// session's leader is asked.
func (o *Oracle) Propose(f *wire.TokenFields) (*wire.Proposal, error) {
	r, err := o.readyReading()
	if err != nil {
		return nil, err
	}
	serial := make([]byte, 16)
	if _, err := randRead(serial); err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: "randomness: " + err.Error()}
	}
	// Positive, minimally encoded, 126 random bits.
	serial[0] = serial[0]&0x3f | 0x40
	t := r.Time.UTC().Truncate(time.Microsecond)
	return &wire.Proposal{
		Serial:         serial,
		GenTimeUnix:    t.Unix(),
		GenTimeNanos:   uint32(t.Nanosecond()),
		AccuracyMicros: o.proposedAccuracy(r.Accuracy),
	}, nil
}

// proposedAccuracy is the accuracy a leader claims. A single oracle claims
// its own bound. A threshold leader claims twice its bound (at least 1 ms
// more), rounded up to whole milliseconds: every signer refuses a claim
// tighter than its own bound, and the peers' bounds differ a little from
// the leader's. A wider bound is still an honest one.
func (o *Oracle) proposedAccuracy(bound time.Duration) uint64 {
	if o.whole != nil {
		return ceilMicros(bound)
	}
	a := max(2*bound, bound+time.Millisecond)
	a = (a + time.Millisecond - 1) / time.Millisecond * time.Millisecond
	return min(ceilMicros(a), wire.MaxAccuracyMicros)
}

// checkProposalTime applies a signer's time check to a proposal: genTime
// must agree with this oracle's reading within both bounds and must not be
// older than MaxProposalAge.
func checkProposalTime(p *wire.Proposal, r clock.Reading) error {
	g := time.Unix(p.GenTimeUnix, int64(p.GenTimeNanos))
	diff := r.Time.Sub(g)
	bound := r.Accuracy + time.Duration(p.AccuracyMicros)*time.Microsecond
	switch {
	case diff < -bound:
		return fmt.Errorf("proposed genTime %s is %v ahead of this oracle's clock (bound %v)", g.UTC().Format(time.RFC3339Nano), -diff, bound)
	case diff > bound+MaxProposalAge:
		return fmt.Errorf("proposed genTime %s is %v behind this oracle's clock (bound %v + %v)", g.UTC().Format(time.RFC3339Nano), diff, bound, MaxProposalAge)
	case time.Duration(p.AccuracyMicros)*time.Microsecond < r.Accuracy:
		return fmt.Errorf("proposed accuracy %dµs is tighter than this oracle's bound %v", p.AccuracyMicros, r.Accuracy)
	}
	return nil
}
