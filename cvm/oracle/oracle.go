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
//	                        attributes itself
//	Round    ML-DSA-65      the rounds of the ML-DSA signature scheme
//	Attach   (every signer) verifies the combined ML-DSA signature, encodes
//	                        the inner token and the ECDSA signed attributes
//	Round    ECDSA P-384    the rounds of the ECDSA signature scheme
//
// In the single-oracle development mode (ModeWholeKey) each scheme has one
// round in which the oracle signs with its whole key; threshold schemes add
// rounds behind the same messages.
package oracle

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/cc-tsa/cc-tsa/cvm/clock"
	"github.com/cc-tsa/cc-tsa/cvm/tst"
	"github.com/cc-tsa/cc-tsa/cvm/wire"
	"github.com/cloudflare/circl/sign/mldsa/mldsa65"
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

// Config configures an oracle.
type Config struct {
	// TSAName is the DER Name the oracle writes into TSTInfo's tsa field and
	// that its certificates must carry as subject.
	TSAName []byte
	// Clock is the oracle's time source.
	Clock clock.Clock
	// Logger receives the oracle's logs; nil means slog.Default().
	Logger *slog.Logger
}

// Oracle is one signing oracle. Its methods are safe for concurrent use.
type Oracle struct {
	cfg  Config
	log  *slog.Logger
	keys *wholeKeys

	mu       sync.Mutex
	state    wire.State
	ecdsaRef *tst.CertRef
	mldsaRef *tst.CertRef
	sessions map[wire.SessionID]*session
	seen     *replayRecord
}

// New creates an oracle in the single-oracle development mode: it generates
// whole ECDSA P-384 and ML-DSA-65 keys in memory. This is not threshold
// signing and the oracle says so in its status and logs. The oracle stays in
// the Booting state until its certificates are installed.
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
	keys, err := generateWholeKeys()
	if err != nil {
		return nil, err
	}
	o := &Oracle{
		cfg:      cfg,
		log:      log.With("component", "oracle", "mode", wire.ModeWholeKey.String()),
		keys:     keys,
		state:    wire.StateBooting,
		sessions: make(map[wire.SessionID]*session),
		seen:     newReplayRecord(),
	}
	o.log.Warn("single-oracle development mode: whole keys in one process, NOT THRESHOLD signing")
	return o, nil
}

// Status returns the oracle's current status.
func (o *Oracle) Status() *wire.Status {
	r := o.cfg.Clock.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	return &wire.Status{
		State:               o.state,
		Mode:                wire.ModeWholeKey,
		NodeID:              1,
		Threshold:           1,
		Nodes:               1,
		Attestation:         wire.AttestationNone,
		ClockTrusted:        clock.Check(r) == nil,
		ClockSource:         r.Source,
		ClockAccuracyMicros: ceilMicros(r.Accuracy),
		TSAName:             o.cfg.TSAName,
		ECDSAPublicKey:      o.keys.ecdsaPub,
		MLDSAPublicKey:      o.keys.mldsaPub,
		ECDSAKeyID:          keyID(o.keys.ecdsaPub),
		MLDSAKeyID:          keyID(o.keys.mldsaPub),
		CertsInstalled:      o.ecdsaRef != nil,
		Label:               "single oracle, whole keys: NOT THRESHOLD (development only)",
	}
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
	if o.state == wire.StateStopping {
		return &wire.Error{Code: wire.CodeNotReady, Message: "oracle is stopping"}
	}
	ecdsaRef, mldsaRef := req.ECDSA, req.MLDSA
	o.ecdsaRef, o.mldsaRef = &ecdsaRef, &mldsaRef
	o.state = wire.StateReady
	o.log.Info("certificates installed; oracle ready")
	return nil
}

// Stop moves the oracle to Stopping: it refuses new sessions.
func (o *Oracle) Stop() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.state = wire.StateStopping
	clear(o.sessions)
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
	if _, err := rand.Read(serial); err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: "randomness: " + err.Error()}
	}
	// Positive, minimally encoded, 126 random bits.
	serial[0] = serial[0]&0x3f | 0x40
	t := r.Time.UTC().Truncate(time.Microsecond)
	return &wire.Proposal{
		Serial:         serial,
		GenTimeUnix:    t.Unix(),
		GenTimeNanos:   uint32(t.Nanosecond()),
		AccuracyMicros: ceilMicros(r.Accuracy),
	}, nil
}

// session is one open signing session.
type session struct {
	id      wire.SessionID
	created time.Time
	stage   stage
	policy  wire.Policy
	certReq bool

	tstInfo    []byte
	mldsaAttrs []byte
	mldsaSig   []byte
	innerToken []byte
	ecdsaAttrs []byte
}

type stage int

const (
	stageBegun       stage = iota // TSTInfo encoded; ML-DSA rounds pending
	stageMLDSASigned              // this signer produced its ML-DSA message
	stageAttached                 // inner token encoded; ECDSA rounds pending
)

// Begin checks a proposal and opens a session.
func (o *Oracle) Begin(req *wire.BeginRequest) (*wire.BeginResponse, error) {
	r, err := o.readyReading()
	if err != nil {
		return nil, err
	}
	if len(req.Signers) != 1 || req.Signers[0] != 1 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("signer set %v: this oracle signs alone as node 1", req.Signers)}
	}
	if err := checkProposalTime(&req.Proposal, r); err != nil {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: err.Error()}
	}

	o.mu.Lock()
	mldsaRef := o.mldsaRef
	o.mu.Unlock()

	info := &tst.Info{Fields: req.Fields, Proposal: req.Proposal, TSAName: o.cfg.TSAName}
	tstInfo, err := tst.EncodeTSTInfo(info)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: err.Error()}
	}
	attrs, err := tst.MLDSASignedAttrs(tstInfo, mldsaRef)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}

	now := time.Now()
	o.mu.Lock()
	defer o.mu.Unlock()
	o.expireLocked(now)
	if len(o.sessions) >= MaxSessions {
		return nil, &wire.Error{Code: wire.CodeBusy, Message: "too many open sessions"}
	}
	if err := o.seen.add(req.Session, req.Proposal.Serial, now); err != nil {
		return nil, err
	}
	o.sessions[req.Session] = &session{
		id:         req.Session,
		created:    now,
		stage:      stageBegun,
		policy:     req.Fields.Policy,
		certReq:    req.Fields.CertReq,
		tstInfo:    tstInfo,
		mldsaAttrs: attrs,
	}
	return &wire.BeginResponse{TSTInfo: tstInfo, MLDSASignedAttrs: attrs}, nil
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

func (o *Oracle) expireLocked(now time.Time) {
	for id, s := range o.sessions {
		if now.Sub(s.created) > SessionLifetime {
			delete(o.sessions, id)
		}
	}
}

func (o *Oracle) lookup(id wire.SessionID) (*session, *tst.CertRef, *tst.CertRef, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	s, ok := o.sessions[id]
	if !ok || time.Since(s.created) > SessionLifetime {
		delete(o.sessions, id)
		return nil, nil, nil, &wire.Error{Code: wire.CodeUnknownSession, Message: "no such session"}
	}
	return s, o.ecdsaRef, o.mldsaRef, nil
}

// Round answers one round of a signature scheme.
func (o *Oracle) Round(req *wire.RoundRequest) (*wire.RoundResponse, error) {
	if req.Round != 1 || len(req.Inbound) != 0 {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%v round %d with %d inbound messages: whole-key signing has one round and no inbound messages", req.Scheme, req.Round, len(req.Inbound))}
	}
	s, _, _, err := o.lookup(req.Session)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	var msg []byte
	switch {
	case req.Scheme == wire.SchemeMLDSA65 && s.stage == stageBegun:
		s.stage = stageMLDSASigned
		msg = s.mldsaAttrs
	case req.Scheme == wire.SchemeECDSA384 && s.stage == stageAttached && s.ecdsaAttrs != nil:
		// The session ends with its last signature.
		delete(o.sessions, s.id)
		msg = s.ecdsaAttrs
	default:
		o.mu.Unlock()
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: fmt.Sprintf("%v round %d is not expected in this session", req.Scheme, req.Round)}
	}
	o.mu.Unlock()

	var sig []byte
	switch req.Scheme {
	case wire.SchemeMLDSA65:
		sig, err = o.keys.signMLDSA(msg)
	case wire.SchemeECDSA384:
		sig, err = o.keys.signECDSA(msg)
	}
	if err != nil {
		o.log.Error("signing failed", "scheme", req.Scheme.String(), "err", err)
		return nil, &wire.Error{Code: wire.CodeInternal, Message: "signing failed"}
	}
	return &wire.RoundResponse{Payload: sig}, nil
}

// Attach verifies the combined ML-DSA signature of a session and encodes the
// inner token and, for hybrid tokens, the outer signed attributes.
func (o *Oracle) Attach(req *wire.AttachRequest) (*wire.AttachResponse, error) {
	s, ecdsaRef, mldsaRef, err := o.lookup(req.Session)
	if err != nil {
		return nil, err
	}
	o.mu.Lock()
	if s.stage != stageMLDSASigned {
		o.mu.Unlock()
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "attach is not expected in this session"}
	}
	o.mu.Unlock()
	if !mldsa65.Verify(o.keys.mldsa.Public().(*mldsa65.PublicKey), s.mldsaAttrs, nil, req.MLDSASignature) {
		return nil, &wire.Error{Code: wire.CodeRefused, Message: "ML-DSA-65 signature does not verify over this session's signed attributes"}
	}
	inner, err := tst.InnerToken(s.tstInfo, s.mldsaAttrs, req.MLDSASignature, mldsaRef, s.certReq)
	if err != nil {
		return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
	}
	resp := &wire.AttachResponse{InnerToken: inner}
	if s.policy == wire.PolicyHybrid {
		resp.ECDSASignedAttrs, err = tst.ECDSASignedAttrs(s.tstInfo, inner, ecdsaRef)
		if err != nil {
			return nil, &wire.Error{Code: wire.CodeInternal, Message: err.Error()}
		}
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if s.stage != stageMLDSASigned {
		return nil, &wire.Error{Code: wire.CodeBadRequest, Message: "attach is not expected in this session"}
	}
	s.stage = stageAttached
	s.mldsaSig = bytes.Clone(req.MLDSASignature)
	s.innerToken = inner
	s.ecdsaAttrs = resp.ECDSASignedAttrs
	if s.policy != wire.PolicyHybrid {
		delete(o.sessions, s.id)
	}
	return resp, nil
}

// End discards a session.
func (o *Oracle) End(id wire.SessionID) {
	o.mu.Lock()
	defer o.mu.Unlock()
	delete(o.sessions, id)
}

// wholeKeys are the keys of the single-oracle development mode.
type wholeKeys struct {
	ecdsa    *ecdsa.PrivateKey
	mldsa    *mldsa65.PrivateKey
	ecdsaPub []byte
	mldsaPub []byte
}

func generateWholeKeys() (*wholeKeys, error) {
	ek, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("oracle: generating ECDSA P-384 key: %w", err)
	}
	epub, err := ek.PublicKey.Bytes()
	if err != nil {
		return nil, fmt.Errorf("oracle: encoding ECDSA public key: %w", err)
	}
	mpk, msk, err := mldsa65.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("oracle: generating ML-DSA-65 key: %w", err)
	}
	mpub, err := mpk.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("oracle: encoding ML-DSA public key: %w", err)
	}
	return &wholeKeys{ecdsa: ek, mldsa: msk, ecdsaPub: epub, mldsaPub: mpub}, nil
}

// signMLDSA signs msg with ML-DSA-65 (hedged, empty context) and checks the
// signature before returning it.
func (k *wholeKeys) signMLDSA(msg []byte) ([]byte, error) {
	sig := make([]byte, mldsa65.SignatureSize)
	if err := mldsa65.SignTo(k.mldsa, msg, nil, true, sig); err != nil {
		return nil, err
	}
	if !mldsa65.Verify(k.mldsa.Public().(*mldsa65.PublicKey), msg, nil, sig) {
		return nil, errors.New("ML-DSA-65 signature failed its own verification")
	}
	return sig, nil
}

// signECDSA signs SHA-384(msg) with ECDSA P-384 and checks the signature
// before returning it (DER Ecdsa-Sig-Value).
func (k *wholeKeys) signECDSA(msg []byte) ([]byte, error) {
	d := sha512.Sum384(msg)
	sig, err := ecdsa.SignASN1(rand.Reader, k.ecdsa, d[:])
	if err != nil {
		return nil, err
	}
	if !ecdsa.VerifyASN1(&k.ecdsa.PublicKey, d[:], sig) {
		return nil, errors.New("ECDSA signature failed its own verification")
	}
	return sig, nil
}

// replayRecord remembers session ids and serial numbers for replayMemory.
type replayRecord struct {
	sessions map[wire.SessionID]time.Time
	serials  map[string]time.Time
	order    []replayEntry // insertion order, for expiry; order[head:] is live
	head     int
}

type replayEntry struct {
	session wire.SessionID
	serial  string
	at      time.Time
}

func newReplayRecord() *replayRecord {
	return &replayRecord{sessions: make(map[wire.SessionID]time.Time), serials: make(map[string]time.Time)}
}

// add records a session id and serial number, refusing ones already seen.
func (r *replayRecord) add(id wire.SessionID, serial []byte, now time.Time) error {
	for r.head < len(r.order) && now.Sub(r.order[r.head].at) > replayMemory {
		e := &r.order[r.head]
		delete(r.sessions, e.session)
		delete(r.serials, e.serial)
		*e = replayEntry{}
		r.head++
	}
	if r.head > len(r.order)/2 {
		r.order = append(r.order[:0], r.order[r.head:]...)
		r.head = 0
	}
	if _, ok := r.sessions[id]; ok {
		return &wire.Error{Code: wire.CodeRefused, Message: "session id was used before"}
	}
	if _, ok := r.serials[string(serial)]; ok {
		return &wire.Error{Code: wire.CodeRefused, Message: "serial number was used before"}
	}
	if len(r.order)-r.head >= maxRemembered {
		return &wire.Error{Code: wire.CodeBusy, Message: "replay record full"}
	}
	r.sessions[id] = now
	r.serials[string(serial)] = now
	r.order = append(r.order, replayEntry{id, string(serial), now})
	return nil
}
