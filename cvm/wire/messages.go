package wire

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// Type identifies the message carried by a frame. Requests have the high bit
// clear; their responses have it set.
type Type uint8

// Message types of protocol version 1.
const (
	TypeStatusRequest   Type = 0x01 // wrapper → oracle: empty payload
	TypeInstallRequest  Type = 0x02 // wrapper → oracle: InstallRequest
	TypeProposeRequest  Type = 0x0C // wrapper → leader: ProposeRequest
	TypeBeginRequest    Type = 0x04 // wrapper → signer: BeginRequest
	TypeRoundRequest    Type = 0x05 // wrapper → signer: RoundRequest
	TypeAttachRequest   Type = 0x06 // wrapper → signer: AttachRequest
	TypeEndRequest      Type = 0x07 // wrapper → signer: SessionID
	TypeRelayRequest    Type = 0x08 // wrapper → oracle: RelayRequest
	TypeHelloRequest    Type = 0x09 // wrapper → oracle: HelloRequest
	TypePeersRequest    Type = 0x0A // wrapper → oracle: PeersRequest
	TypeBeginCSRRequest Type = 0x0B // wrapper → signer: BeginCSRRequest
	// 0x03 was the propose request of the first revision, whose payload
	// was TokenFields alone. It is retired, not reused: a frame of type
	// 0x03 is of an unknown type, so an oracle and a wrapper from either
	// side of the change refuse each other instead of misreading a payload.

	TypeStatusResponse Type = 0x81 // Status
	TypeOK             Type = 0x82 // empty payload
	TypeProposal       Type = 0x83 // Proposal
	TypeBeginResponse  Type = 0x84 // BeginResponse
	TypeRoundResponse  Type = 0x85 // RoundResponse
	TypeAttachResponse Type = 0x86 // AttachResponse
	TypeRelayResponse  Type = 0x88 // RelayResponse
	TypeHello          Type = 0x89 // Hello
	TypeError          Type = 0xFF // Error
)

// Known reports whether t is a message type of this protocol version.
func (t Type) Known() bool {
	switch t {
	case TypeStatusRequest, TypeInstallRequest, TypeProposeRequest, TypeBeginRequest,
		TypeRoundRequest, TypeAttachRequest, TypeEndRequest, TypeRelayRequest, TypeHelloRequest,
		TypePeersRequest, TypeBeginCSRRequest,
		TypeStatusResponse, TypeOK, TypeProposal, TypeBeginResponse, TypeRoundResponse,
		TypeAttachResponse, TypeRelayResponse, TypeHello, TypeError:
		return true
	}
	return false
}

func (t Type) String() string {
	switch t {
	case TypeStatusRequest:
		return "StatusRequest"
	case TypeInstallRequest:
		return "InstallRequest"
	case TypeProposeRequest:
		return "ProposeRequest"
	case TypeBeginRequest:
		return "BeginRequest"
	case TypeRoundRequest:
		return "RoundRequest"
	case TypeAttachRequest:
		return "AttachRequest"
	case TypeEndRequest:
		return "EndRequest"
	case TypeRelayRequest:
		return "RelayRequest"
	case TypeHelloRequest:
		return "HelloRequest"
	case TypePeersRequest:
		return "PeersRequest"
	case TypeBeginCSRRequest:
		return "BeginCSRRequest"
	case TypeRelayResponse:
		return "RelayResponse"
	case TypeHello:
		return "Hello"
	case TypeStatusResponse:
		return "Status"
	case TypeOK:
		return "OK"
	case TypeProposal:
		return "Proposal"
	case TypeBeginResponse:
		return "BeginResponse"
	case TypeRoundResponse:
		return "RoundResponse"
	case TypeAttachResponse:
		return "AttachResponse"
	case TypeError:
		return "Error"
	}
	return fmt.Sprintf("Type(%#02x)", uint8(t))
}

// ErrMessage is wrapped by every error about a malformed payload.
var ErrMessage = errors.New("wire: malformed message")

func malformed(msg string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMessage, fmt.Sprintf(msg, args...))
}

// Limits on variable-length fields. They are part of the protocol: a field
// outside its limit makes the whole message malformed.
const (
	MaxCertificate   = 16 << 10 // one DER certificate
	MaxName          = 1 << 10  // one DER Name
	MaxSerial        = 20       // RFC 5280 / RFC 3161 serial numbers
	MaxNonce         = 21       // a non-negative INTEGER of at most 160 bits
	MaxLabel         = 256      // human-readable labels
	MaxErrorText     = 1 << 10
	MaxSigners       = 6
	MaxTSTInfo       = 4 << 10
	MaxSignedAttrs   = 4 << 10
	MaxInnerToken    = 64 << 10
	MaxRoundPayload  = 1<<20 + 4096
	MaxMLDSASig      = 3309
	MaxECDSAShare    = 1 << 10 // an online ECDSA share envelope or a whole-key signature
	MaxECDSAPoint    = 97
	MaxMLDSAPubKey   = 1952
	SessionIDSize    = 16
	KeyIdentifierLen = 20
)

// State is the lifecycle state of an oracle.
type State uint8

// Oracle states. Later protocol revisions add states between Booting and
// Ready (time synchronisation, attestation, ceremony).
const (
	StateBooting  State = 1
	StateReady    State = 2
	StateStopping State = 3
	// StateCeremony: a threshold oracle without keys, waiting for or
	// taking part in the key ceremony.
	StateCeremony State = 4
)

func (s State) String() string {
	switch s {
	case StateBooting:
		return "booting"
	case StateReady:
		return "ready"
	case StateStopping:
		return "stopping"
	case StateCeremony:
		return "awaiting key ceremony"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

func (s State) valid() bool { return s >= StateBooting && s <= StateCeremony }

// Mode says how an oracle holds its signing keys.
type Mode uint8

// Key modes.
const (
	// ModeWholeKey is the single-oracle development mode: the oracle holds
	// whole ECDSA and ML-DSA keys. It is not threshold signing.
	ModeWholeKey Mode = 1
	// ModeThreshold is T-of-N threshold signing with key shares.
	ModeThreshold Mode = 2
)

func (m Mode) String() string {
	switch m {
	case ModeWholeKey:
		return "whole key (NOT THRESHOLD)"
	case ModeThreshold:
		return "threshold"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// Attestation says what backs an oracle's attestation reports.
type Attestation uint8

// Attestation kinds.
const (
	AttestationNone      Attestation = 0
	AttestationSimulated Attestation = 1 // fake SEV-SNP device: SIMULATED
	AttestationSEVSNP    Attestation = 2 // real AMD SEV-SNP hardware
)

func (a Attestation) String() string {
	switch a {
	case AttestationNone:
		return "none"
	case AttestationSimulated:
		return "SIMULATED SEV-SNP"
	case AttestationSEVSNP:
		return "AMD SEV-SNP"
	}
	return fmt.Sprintf("Attestation(%d)", uint8(a))
}

// Policy identifies the TSA policy a token is issued under. The oracle maps
// it to an object identifier itself; OIDs never cross the wire.
type Policy uint8

// Policies.
const (
	// PolicyHybrid issues an ECDSA P-384 token carrying an ML-DSA-65 token
	// over the same TSTInfo (policy arc .2.1).
	PolicyHybrid Policy = 1
	// PolicyMLDSA issues a plain RFC 9882 ML-DSA-65 token (policy arc .2.2).
	PolicyMLDSA Policy = 2
)

func (p Policy) valid() bool { return p == PolicyHybrid || p == PolicyMLDSA }

// HashAlg identifies the hash algorithm of a message imprint.
type HashAlg uint8

// Hash algorithms accepted in message imprints.
const (
	SHA256   HashAlg = 1
	SHA384   HashAlg = 2
	SHA512   HashAlg = 3
	SHA3_256 HashAlg = 4
	SHA3_384 HashAlg = 5
	SHA3_512 HashAlg = 6
)

// Size returns the digest length of h in bytes, or 0 if h is unknown.
func (h HashAlg) Size() int {
	switch h {
	case SHA256, SHA3_256:
		return 32
	case SHA384, SHA3_384:
		return 48
	case SHA512, SHA3_512:
		return 64
	}
	return 0
}

func (h HashAlg) String() string {
	switch h {
	case SHA256:
		return "SHA-256"
	case SHA384:
		return "SHA-384"
	case SHA512:
		return "SHA-512"
	case SHA3_256:
		return "SHA3-256"
	case SHA3_384:
		return "SHA3-384"
	case SHA3_512:
		return "SHA3-512"
	}
	return fmt.Sprintf("HashAlg(%d)", uint8(h))
}

// Scheme identifies a signature scheme whose rounds a session relays.
type Scheme uint8

// Schemes.
const (
	SchemeMLDSA65  Scheme = 1
	SchemeECDSA384 Scheme = 2
)

func (s Scheme) valid() bool { return s == SchemeMLDSA65 || s == SchemeECDSA384 }

func (s Scheme) String() string {
	switch s {
	case SchemeMLDSA65:
		return "ML-DSA-65"
	case SchemeECDSA384:
		return "ECDSA P-384"
	}
	return fmt.Sprintf("Scheme(%d)", uint8(s))
}

// ErrorCode classifies an oracle's refusal.
type ErrorCode uint16

// Error codes.
const (
	CodeBadRequest       ErrorCode = 1 // the request was malformed or inconsistent
	CodeNotReady         ErrorCode = 2 // the oracle is not in the Ready state
	CodeTimeNotAvailable ErrorCode = 3 // the oracle has no trusted time
	CodeRefused          ErrorCode = 4 // a proposal failed the oracle's own checks
	CodeUnknownSession   ErrorCode = 5
	CodeBusy             ErrorCode = 6 // a resource bound was reached; retry later
	CodeInternal         ErrorCode = 7
	// CodeUnauthenticated: a relayed message failed authentication (it did
	// not decode as an envelope, its signature or header did not verify,
	// or a committed payload did not open its commitment). The relay can
	// cause this, so the refusal names no culprit; a coordinator that
	// relayed faithfully checks the senders' envelopes itself.
	CodeUnauthenticated ErrorCode = 8
)

func (c ErrorCode) String() string {
	switch c {
	case CodeBadRequest:
		return "bad request"
	case CodeNotReady:
		return "not ready"
	case CodeTimeNotAvailable:
		return "time not available"
	case CodeRefused:
		return "refused"
	case CodeUnknownSession:
		return "unknown session"
	case CodeBusy:
		return "busy"
	case CodeInternal:
		return "internal error"
	case CodeUnauthenticated:
		return "unauthenticated message"
	}
	return fmt.Sprintf("ErrorCode(%d)", uint16(c))
}

// Status describes an oracle. It answers TypeStatusRequest.
type Status struct {
	State       State
	Mode        Mode
	NodeID      uint8 // 1-based index of this oracle
	Threshold   uint8
	Nodes       uint8
	Attestation Attestation
	// ClockTrusted reports whether the oracle currently has trusted time;
	// ClockSource names where its time comes from and ClockAccuracyMicros is
	// its current bound.
	ClockTrusted        bool
	ClockSource         string
	ClockAccuracyMicros uint64
	// TSAName is the DER Name the oracle writes into the tsa field of
	// TSTInfo. Certificates must use it as their subject.
	TSAName        []byte
	ECDSAPublicKey []byte // uncompressed P-384 point, 97 bytes
	MLDSAPublicKey []byte // FIPS 204 pkEncode, 1952 bytes
	ECDSAKeyID     []byte // subject key identifier, 20 bytes
	MLDSAKeyID     []byte // subject key identifier, 20 bytes
	CertsInstalled bool
	Label          string // human-readable description of the mode
	// MLDSAPool is the number of precomputed ML-DSA round-1 states;
	// Presignatures the number of live ECDSA presignatures (threshold mode).
	MLDSAPool     uint16
	Presignatures uint16
	// Cluster and Epoch are the membership the oracle is a member of (all
	// zero before the key ceremony fixes it).
	Cluster [32]byte
	Epoch   uint64
	// Banned lists, ascending, the peers this oracle's ECDSA signer has
	// banned after an authenticated presigning message of theirs failed an
	// OT-extension or RVOLE check (threshold mode). A fresh pair setup with
	// a banned peer lifts its ban (see docs/threat-model.md, "Presigning, pair setups and bans").
	Banned []uint8
	// ECDSASharing is the digest of the ECDSA sharing the oracle's share
	// belongs to (public: the key and every public share; zero without
	// keys). All members agree on it; a share refresh changes it, and a
	// member that missed a refresh's commit shows the previous value.
	ECDSASharing [32]byte
}

// Marshal encodes s.
func (s *Status) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint8(uint8(s.State))
	b.AddUint8(uint8(s.Mode))
	b.AddUint8(s.NodeID)
	b.AddUint8(s.Threshold)
	b.AddUint8(s.Nodes)
	b.AddUint8(uint8(s.Attestation))
	addBool(&b, s.ClockTrusted)
	addString8(&b, s.ClockSource)
	b.AddUint64(s.ClockAccuracyMicros)
	addBytes16(&b, s.TSAName)
	addBytes8(&b, s.ECDSAPublicKey)
	addBytes16(&b, s.MLDSAPublicKey)
	addBytes8(&b, s.ECDSAKeyID)
	addBytes8(&b, s.MLDSAKeyID)
	addBool(&b, s.CertsInstalled)
	addString8(&b, s.Label)
	b.AddUint16(s.MLDSAPool)
	b.AddUint16(s.Presignatures)
	b.AddBytes(s.Cluster[:])
	b.AddUint64(s.Epoch)
	addBytes8(&b, s.Banned)
	b.AddBytes(s.ECDSASharing[:])
	return b.Bytes()
}

// Unmarshal decodes p into s.
func (s *Status) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var st, mode, att uint8
	var v Status
	var cluster, sharing []byte
	if !in.ReadUint8(&st) || !in.ReadUint8(&mode) || !in.ReadUint8(&v.NodeID) ||
		!in.ReadUint8(&v.Threshold) || !in.ReadUint8(&v.Nodes) || !in.ReadUint8(&att) ||
		!readBool(&in, &v.ClockTrusted) || !readString8(&in, &v.ClockSource, MaxLabel) ||
		!in.ReadUint64(&v.ClockAccuracyMicros) ||
		!readBytes16(&in, &v.TSAName, MaxName) ||
		!readBytes8(&in, &v.ECDSAPublicKey, MaxECDSAPoint) ||
		!readBytes16(&in, &v.MLDSAPublicKey, MaxMLDSAPubKey) ||
		!readBytes8(&in, &v.ECDSAKeyID, KeyIdentifierLen) ||
		!readBytes8(&in, &v.MLDSAKeyID, KeyIdentifierLen) ||
		!readBool(&in, &v.CertsInstalled) || !readString8(&in, &v.Label, MaxLabel) ||
		!in.ReadUint16(&v.MLDSAPool) || !in.ReadUint16(&v.Presignatures) ||
		!in.ReadBytes(&cluster, 32) || !in.ReadUint64(&v.Epoch) ||
		!readBytes8(&in, &v.Banned, MaxSigners) || !in.ReadBytes(&sharing, 32) || !in.Empty() {
		return malformed("status")
	}
	copy(v.Cluster[:], cluster)
	copy(v.ECDSASharing[:], sharing)
	v.State, v.Mode, v.Attestation = State(st), Mode(mode), Attestation(att)
	switch {
	case !v.State.valid():
		return malformed("status: state %d", st)
	case v.Mode != ModeWholeKey && v.Mode != ModeThreshold:
		return malformed("status: mode %d", mode)
	case v.Attestation > AttestationSEVSNP:
		return malformed("status: attestation %d", att)
	case v.NodeID == 0 || v.NodeID > v.Nodes || v.Nodes > MaxSigners || v.Threshold == 0 || v.Threshold > v.Nodes:
		return malformed("status: node %d of %d, threshold %d", v.NodeID, v.Nodes, v.Threshold)
	}
	for i, id := range v.Banned {
		if id == 0 || id > v.Nodes || id == v.NodeID || (i > 0 && v.Banned[i-1] >= id) {
			return malformed("status: banned peers %v", v.Banned)
		}
	}
	*s = v
	return nil
}

// CertInfo is what an oracle needs to know about one of its certificates:
// the DER bytes (hashed into signingCertificateV2 and embedded in tokens that
// ask for certificates) and the issuer Name and serial number (the inner
// token's signer identifier). The oracle copies these verbatim; it does not
// parse them beyond checking that each is one well-formed DER element.
type CertInfo struct {
	Certificate []byte
	Issuer      []byte // DER Name
	Serial      []byte // INTEGER content octets
}

// InstallRequest gives an oracle its TSA certificates.
type InstallRequest struct {
	ECDSA CertInfo
	MLDSA CertInfo
}

// Marshal encodes r.
func (r *InstallRequest) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	for _, c := range []*CertInfo{&r.ECDSA, &r.MLDSA} {
		addBytes24(&b, c.Certificate)
		addBytes16(&b, c.Issuer)
		addBytes8(&b, c.Serial)
	}
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *InstallRequest) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v InstallRequest
	for _, c := range []*CertInfo{&v.ECDSA, &v.MLDSA} {
		if !readBytes24(&in, &c.Certificate, MaxCertificate) || !readBytes16(&in, &c.Issuer, MaxName) ||
			!readBytes8(&in, &c.Serial, MaxSerial) {
			return malformed("install request")
		}
		if len(c.Certificate) == 0 || len(c.Issuer) == 0 || len(c.Serial) == 0 {
			return malformed("install request: empty certificate field")
		}
	}
	if !in.Empty() {
		return malformed("install request: trailing bytes")
	}
	*r = v
	return nil
}

// TokenFields are the request fields of one token, as the wrapper parsed
// them from a TimeStampReq.
type TokenFields struct {
	Policy  Policy
	HashAlg HashAlg
	// HashParamsNull records whether the request's hash AlgorithmIdentifier
	// carried an explicit NULL parameter, so that the TSTInfo echoes the
	// imprint exactly.
	HashParamsNull bool
	Imprint        []byte
	// Nonce holds the content octets of the request's nonce INTEGER
	// (minimal two's complement, non-negative), or nil if absent.
	Nonce   []byte
	CertReq bool
}

func (f *TokenFields) add(b *cryptobyte.Builder) {
	b.AddUint8(uint8(f.Policy))
	b.AddUint8(uint8(f.HashAlg))
	addBool(b, f.HashParamsNull)
	addBytes8(b, f.Imprint)
	addBool(b, f.Nonce != nil)
	addBytes8(b, f.Nonce)
	addBool(b, f.CertReq)
}

func (f *TokenFields) read(in *cryptobyte.String) error {
	var pol, alg uint8
	var hasNonce bool
	var v TokenFields
	if !in.ReadUint8(&pol) || !in.ReadUint8(&alg) || !readBool(in, &v.HashParamsNull) ||
		!readBytes8(in, &v.Imprint, 64) || !readBool(in, &hasNonce) || !readBytes8(in, &v.Nonce, MaxNonce) ||
		!readBool(in, &v.CertReq) {
		return malformed("token fields")
	}
	v.Policy, v.HashAlg = Policy(pol), HashAlg(alg)
	if !v.Policy.valid() {
		return malformed("token fields: policy %d", pol)
	}
	if v.HashAlg.Size() == 0 {
		return malformed("token fields: hash algorithm %d", alg)
	}
	if len(v.Imprint) != v.HashAlg.Size() {
		return malformed("token fields: %d-byte imprint for %v", len(v.Imprint), v.HashAlg)
	}
	if hasNonce {
		if err := CheckNonce(v.Nonce); err != nil {
			return err
		}
	} else if len(v.Nonce) != 0 {
		return malformed("token fields: nonce bytes without nonce flag")
	} else {
		v.Nonce = nil
	}
	*f = v
	return nil
}

// CheckNonce reports whether n is the content of a minimal DER encoding of a
// non-negative INTEGER of at most 160 bits.
func CheckNonce(n []byte) error {
	switch {
	case len(n) == 0:
		return malformed("nonce: empty INTEGER")
	case n[0]&0x80 != 0:
		return malformed("nonce: negative")
	case len(n) > 1 && n[0] == 0 && n[1]&0x80 == 0:
		return malformed("nonce: not minimally encoded")
	case len(n) > MaxNonce || (len(n) == MaxNonce && n[0] != 0):
		return malformed("nonce: more than 160 bits")
	}
	return nil
}

// Marshal encodes f.
func (f *TokenFields) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	f.add(&b)
	return b.Bytes()
}

// Unmarshal decodes p into f.
func (f *TokenFields) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	if err := f.read(&in); err != nil {
		return err
	}
	if !in.Empty() {
		return malformed("token fields: trailing bytes")
	}
	return nil
}

// ProposeRequest asks the leader of a signing session for a proposal. The
// leader needs the signer set because the serial number it picks encodes it
// (see docs/wire-protocol.md, "Serial numbers").
type ProposeRequest struct {
	Signers []uint8 // node ids of the signing set, ascending, including the leader
	Fields  TokenFields
}

// Marshal encodes r (the payload of TypeProposeRequest).
func (r *ProposeRequest) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	addBytes8(&b, r.Signers)
	r.Fields.add(&b)
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *ProposeRequest) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v ProposeRequest
	if !readBytes8(&in, &v.Signers, MaxSigners) {
		return malformed("propose request")
	}
	if err := checkSigners(v.Signers); err != nil {
		return err
	}
	if err := v.Fields.read(&in); err != nil {
		return err
	}
	if !in.Empty() {
		return malformed("propose request: trailing bytes")
	}
	*r = v
	return nil
}

// Proposal is the leader's choice of the fields that depend on it: the
// serial number and the time.
type Proposal struct {
	// Serial holds the content octets of a positive, minimally encoded
	// INTEGER of at most 20 octets.
	Serial []byte
	// GenTimeUnix and GenTimeNanos give genTime; the nanoseconds are a
	// multiple of 1000 (genTime has microsecond precision).
	GenTimeUnix  int64
	GenTimeNanos uint32
	// AccuracyMicros is the accuracy bound the leader claims.
	AccuracyMicros uint64
}

// MaxAccuracyMicros bounds the accuracy an oracle may claim (one hour).
const MaxAccuracyMicros = 3600 * 1_000_000

func (p *Proposal) add(b *cryptobyte.Builder) {
	addBytes8(b, p.Serial)
	b.AddUint64(uint64(p.GenTimeUnix))
	b.AddUint32(p.GenTimeNanos)
	b.AddUint64(p.AccuracyMicros)
}

func (p *Proposal) read(in *cryptobyte.String) error {
	var v Proposal
	var t uint64
	if !readBytes8(in, &v.Serial, MaxSerial) || !in.ReadUint64(&t) || !in.ReadUint32(&v.GenTimeNanos) ||
		!in.ReadUint64(&v.AccuracyMicros) {
		return malformed("proposal")
	}
	v.GenTimeUnix = int64(t)
	if err := CheckSerial(v.Serial); err != nil {
		return err
	}
	// Years 1970 to 9999: GeneralizedTime has four year digits.
	if v.GenTimeUnix < 0 || v.GenTimeUnix > 253402300799 {
		return malformed("proposal: genTime %d out of range", v.GenTimeUnix)
	}
	if v.GenTimeNanos >= 1e9 || v.GenTimeNanos%1000 != 0 {
		return malformed("proposal: genTime nanoseconds %d", v.GenTimeNanos)
	}
	if v.AccuracyMicros == 0 || v.AccuracyMicros > MaxAccuracyMicros {
		return malformed("proposal: accuracy %d µs", v.AccuracyMicros)
	}
	*p = v
	return nil
}

// CheckSerial reports whether s is the content of a minimal DER encoding of a
// positive INTEGER of at most 20 octets.
func CheckSerial(s []byte) error {
	switch {
	case len(s) == 0:
		return malformed("serial: empty INTEGER")
	case len(s) > MaxSerial:
		return malformed("serial: %d octets", len(s))
	case s[0]&0x80 != 0:
		return malformed("serial: negative")
	case len(s) > 1 && s[0] == 0 && s[1]&0x80 == 0:
		return malformed("serial: not minimally encoded")
	case len(s) == 1 && s[0] == 0:
		return malformed("serial: zero")
	}
	return nil
}

// Marshal encodes p.
func (p *Proposal) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	p.add(&b)
	return b.Bytes()
}

// Unmarshal decodes d into p.
func (p *Proposal) Unmarshal(d []byte) error {
	in := cryptobyte.String(d)
	if err := p.read(&in); err != nil {
		return err
	}
	if !in.Empty() {
		return malformed("proposal: trailing bytes")
	}
	return nil
}

// SessionID names one signing session. The coordinator picks it at random;
// oracles refuse one they have seen before.
type SessionID [SessionIDSize]byte

// BeginRequest opens a signing session on one signer.
type BeginRequest struct {
	Session  SessionID
	Signers  []uint8 // node ids of the signing set, ascending, including the receiver
	Fields   TokenFields
	Proposal Proposal
	// Presign names the ECDSA presignature the signer set uses (threshold
	// mode; zero in whole-key mode).
	Presign PresignID
}

// PresignID names one ECDSA presigning session.
type PresignID [32]byte

// Marshal encodes r.
func (r *BeginRequest) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddBytes(r.Session[:])
	addBytes8(&b, r.Signers)
	r.Fields.add(&b)
	r.Proposal.add(&b)
	b.AddBytes(r.Presign[:])
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *BeginRequest) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v BeginRequest
	var sid, signers []byte
	if !in.ReadBytes(&sid, SessionIDSize) || !readBytes8(&in, &signers, MaxSigners) {
		return malformed("begin request")
	}
	copy(v.Session[:], sid)
	if err := checkSigners(signers); err != nil {
		return err
	}
	v.Signers = signers
	if err := v.Fields.read(&in); err != nil {
		return err
	}
	if err := v.Proposal.read(&in); err != nil {
		return err
	}
	var pid []byte
	if !in.ReadBytes(&pid, len(v.Presign)) || !in.Empty() {
		return malformed("begin request: presignature id or trailing bytes")
	}
	copy(v.Presign[:], pid)
	*r = v
	return nil
}

func checkSigners(s []byte) error {
	if len(s) == 0 {
		return malformed("signer set is empty")
	}
	for i, id := range s {
		if id == 0 || id > MaxSigners {
			return malformed("signer id %d out of range", id)
		}
		if i > 0 && s[i-1] >= id {
			return malformed("signer set not strictly ascending")
		}
	}
	return nil
}

// BeginResponse carries what a signer encoded for a session: the TSTInfo and
// the DER SET of signed attributes of the ML-DSA SignerInfo (the message the
// ML-DSA signature covers).
type BeginResponse struct {
	TSTInfo          []byte
	MLDSASignedAttrs []byte
	// Round1 is the signer's first ML-DSA message (threshold mode), empty in
	// whole-key mode.
	Round1 []byte
}

// Marshal encodes r.
func (r *BeginResponse) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	addBytes16(&b, r.TSTInfo)
	addBytes16(&b, r.MLDSASignedAttrs)
	addBytes24(&b, r.Round1)
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *BeginResponse) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v BeginResponse
	if !readBytes16(&in, &v.TSTInfo, MaxTSTInfo) || !readBytes16(&in, &v.MLDSASignedAttrs, MaxSignedAttrs) ||
		!readBytes24(&in, &v.Round1, MaxRoundPayload) ||
		!in.Empty() || len(v.TSTInfo) == 0 || len(v.MLDSASignedAttrs) == 0 {
		return malformed("begin response")
	}
	if len(v.Round1) == 0 {
		v.Round1 = nil
	}
	*r = v
	return nil
}

// RoundMessage is one party's message in a round of a threshold scheme.
type RoundMessage struct {
	From    uint8
	Payload []byte
}

// RoundRequest asks a signer for its message in one round of one scheme,
// giving it the other signers' messages of the previous round.
type RoundRequest struct {
	Session SessionID
	Scheme  Scheme
	Round   uint8
	Inbound []RoundMessage
}

// Marshal encodes r.
func (r *RoundRequest) Marshal() ([]byte, error) {
	size := SessionIDSize + 3
	for _, m := range r.Inbound {
		size += 4 + len(m.Payload)
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, size))
	b.AddBytes(r.Session[:])
	b.AddUint8(uint8(r.Scheme))
	b.AddUint8(r.Round)
	b.AddUint8(uint8(len(r.Inbound)))
	for _, m := range r.Inbound {
		b.AddUint8(m.From)
		addBytes24(b, m.Payload)
	}
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *RoundRequest) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v RoundRequest
	var sid []byte
	var scheme, n uint8
	if !in.ReadBytes(&sid, SessionIDSize) || !in.ReadUint8(&scheme) || !in.ReadUint8(&v.Round) || !in.ReadUint8(&n) {
		return malformed("round request")
	}
	copy(v.Session[:], sid)
	v.Scheme = Scheme(scheme)
	if !v.Scheme.valid() {
		return malformed("round request: scheme %d", scheme)
	}
	if v.Round == 0 {
		return malformed("round request: round 0")
	}
	if n > MaxSigners {
		return malformed("round request: %d inbound messages", n)
	}
	for i := 0; i < int(n); i++ {
		var m RoundMessage
		if !in.ReadUint8(&m.From) || !readBytes24(&in, &m.Payload, MaxRoundPayload) {
			return malformed("round request: inbound message %d", i)
		}
		if m.From == 0 || m.From > MaxSigners || (i > 0 && v.Inbound[i-1].From >= m.From) {
			return malformed("round request: inbound sender %d out of order or range", m.From)
		}
		v.Inbound = append(v.Inbound, m)
	}
	if !in.Empty() {
		return malformed("round request: trailing bytes")
	}
	*r = v
	return nil
}

// RoundResponse carries a signer's message for a round.
type RoundResponse struct {
	Payload []byte
}

// Marshal encodes r.
func (r *RoundResponse) Marshal() ([]byte, error) {
	b := cryptobyte.NewBuilder(make([]byte, 0, 3+len(r.Payload)))
	addBytes24(b, r.Payload)
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *RoundResponse) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v RoundResponse
	if !readBytes24(&in, &v.Payload, MaxRoundPayload) || !in.Empty() || len(v.Payload) == 0 {
		return malformed("round response")
	}
	*r = v
	return nil
}

// AttachRequest gives a signer the combined ML-DSA signature of a session.
// The signer verifies it over the signed attributes it encoded itself, then
// encodes the inner token and, for hybrid tokens, the outer signed attributes.
type AttachRequest struct {
	Session        SessionID
	MLDSASignature []byte
}

// Marshal encodes r.
func (r *AttachRequest) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddBytes(r.Session[:])
	addBytes16(&b, r.MLDSASignature)
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *AttachRequest) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v AttachRequest
	var sid []byte
	if !in.ReadBytes(&sid, SessionIDSize) || !readBytes16(&in, &v.MLDSASignature, MaxMLDSASig) || !in.Empty() ||
		len(v.MLDSASignature) != MaxMLDSASig {
		return malformed("attach request")
	}
	copy(v.Session[:], sid)
	*r = v
	return nil
}

// AttachResponse carries the inner ML-DSA token (a DER ContentInfo) and, for
// hybrid tokens, the DER SET of signed attributes of the outer ECDSA
// SignerInfo with the signer's ECDSA P-384 contribution over them: its
// online share envelope (threshold mode) or the whole signature (whole-key
// mode). Both are empty for ML-DSA-only tokens. The session ends with it.
type AttachResponse struct {
	InnerToken       []byte
	ECDSASignedAttrs []byte
	ECDSA            []byte
}

// Marshal encodes r.
func (r *AttachResponse) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	addBytes24(&b, r.InnerToken)
	addBytes16(&b, r.ECDSASignedAttrs)
	addBytes16(&b, r.ECDSA)
	return b.Bytes()
}

// Unmarshal decodes p into r.
func (r *AttachResponse) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var v AttachResponse
	if !readBytes24(&in, &v.InnerToken, MaxInnerToken) || !readBytes16(&in, &v.ECDSASignedAttrs, MaxSignedAttrs) ||
		!readBytes16(&in, &v.ECDSA, MaxECDSAShare) || !in.Empty() || len(v.InnerToken) == 0 ||
		(len(v.ECDSASignedAttrs) == 0) != (len(v.ECDSA) == 0) {
		return malformed("attach response")
	}
	if len(v.ECDSASignedAttrs) == 0 {
		v.ECDSASignedAttrs, v.ECDSA = nil, nil
	}
	*r = v
	return nil
}

// ParseSessionID decodes the payload of TypeEndRequest.
func ParseSessionID(p []byte) (SessionID, error) {
	var s SessionID
	if len(p) != SessionIDSize {
		return s, malformed("session id of %d bytes", len(p))
	}
	copy(s[:], p)
	return s, nil
}

// LateProposal begins the message of a signer's refusal of a proposal
// whose interval ends before its own begins, followed by the gap in whole
// microseconds and "µs: ". An honest signer gives it when the proposal
// reached it later than the leader's slack allowed; a coordinator that
// finds the gap no larger than the time it took to deliver the proposal
// retries with a fresh one and blames no one (see ParseLateProposal).
const LateProposal = "late proposal by "

// ParseLateProposal returns the gap a LateProposal refusal reports.
func ParseLateProposal(msg string) (time.Duration, bool) {
	rest, ok := strings.CutPrefix(msg, LateProposal)
	if !ok {
		return 0, false
	}
	num, _, ok := strings.Cut(rest, "µs: ")
	us, err := strconv.ParseUint(num, 10, 63)
	if !ok || err != nil || us > uint64(time.Hour/time.Microsecond)*24 {
		return 0, false
	}
	return time.Duration(us) * time.Microsecond, true
}

// Error is an oracle's refusal.
type Error struct {
	Code    ErrorCode
	Message string
}

func (e *Error) Error() string { return fmt.Sprintf("oracle: %v: %s", e.Code, e.Message) }

// Marshal encodes e.
func (e *Error) Marshal() ([]byte, error) {
	var b cryptobyte.Builder
	b.AddUint16(uint16(e.Code))
	msg := e.Message
	if len(msg) > MaxErrorText {
		msg = msg[:MaxErrorText]
	}
	addBytes16(&b, []byte(msg))
	return b.Bytes()
}

// Unmarshal decodes p into e.
func (e *Error) Unmarshal(p []byte) error {
	in := cryptobyte.String(p)
	var code uint16
	var msg []byte
	if !in.ReadUint16(&code) || !readBytes16(&in, &msg, MaxErrorText) || !in.Empty() {
		return malformed("error")
	}
	if code == 0 || code > uint16(CodeUnauthenticated) {
		return malformed("error code %d", code)
	}
	e.Code, e.Message = ErrorCode(code), string(msg)
	return nil
}

func addBool(b *cryptobyte.Builder, v bool) {
	if v {
		b.AddUint8(1)
	} else {
		b.AddUint8(0)
	}
}

func readBool(in *cryptobyte.String, v *bool) bool {
	var u uint8
	if !in.ReadUint8(&u) || u > 1 {
		return false
	}
	*v = u == 1
	return true
}

func addBytes8(b *cryptobyte.Builder, v []byte) {
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}

func addBytes16(b *cryptobyte.Builder, v []byte) {
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}

func addBytes24(b *cryptobyte.Builder, v []byte) {
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(v) })
}

func addString8(b *cryptobyte.Builder, s string) { addBytes8(b, []byte(s)) }

func readBytes8(in *cryptobyte.String, v *[]byte, max int) bool {
	var s cryptobyte.String
	if !in.ReadUint8LengthPrefixed(&s) || len(s) > max {
		return false
	}
	*v = append([]byte(nil), s...)
	return true
}

func readBytes16(in *cryptobyte.String, v *[]byte, max int) bool {
	var s cryptobyte.String
	if !in.ReadUint16LengthPrefixed(&s) || len(s) > max {
		return false
	}
	*v = append([]byte(nil), s...)
	return true
}

// readBytes24 reads the large fields (round messages, tokens, envelopes).
// The result aliases the input: decoders are given freshly read frames,
// and copying hundreds of kilobytes per message per hop costs more than it
// protects.
func readBytes24(in *cryptobyte.String, v *[]byte, max int) bool {
	var s cryptobyte.String
	if !in.ReadUint24LengthPrefixed(&s) || len(s) > max {
		return false
	}
	*v = s[:len(s):len(s)]
	return true
}

func readString8(in *cryptobyte.String, v *string, max int) bool {
	var b []byte
	if !readBytes8(in, &b, max) {
		return false
	}
	*v = string(b)
	return true
}
