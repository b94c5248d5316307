// Package peer authenticates the messages oracles exchange through the
// untrusted coordinator.
//
// Each oracle has an identity: an Ed25519 signing key and an HPKE key
// (ML-KEM-768 + X25519 hybrid KEM, HKDF-SHA256, AES-256-GCM). Its
// attestation report binds both public keys (see PublicKeys.Marshal), so a
// peer that has verified the report knows whom it talks to. Every message is
// an Envelope signed by its sender over a domain-separated encoding of
// (version, kind, key id, session id, round, sender, receiver, payload
// flag, payload), or, for a payload that opens a hash commitment the sender
// signed earlier, over the commitment instead of the payload (see
// SealCommitted). Confidential payloads (key-generation shares, OT and
// presigning messages) are encrypted to the receiver's HPKE key: through a
// pairwise channel secret that the sender encapsulates once and a fresh
// AES-256-GCM key per message bound to the header (see channel.go), so a
// ciphertext cannot be moved to another session, round or receiver.
//
// The signature scheme is classical: message authentication only has to
// hold while a session runs. Confidentiality of shares has to hold for the
// life of the key, hence the post-quantum hybrid KEM.
package peer

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
)

// Version is the envelope format version.
const Version = 1

// Sizes.
const (
	KeyIDSize      = 32
	SessionIDSize  = 32
	MaxPayload     = 1 << 20
	signatureLabel = "CC-TSA peer message v1"
	hpkeLabel      = "CC-TSA peer encryption v1"
	publicKeyLabel = "CC-TSA node public keys v1"
)

// Broadcast is the receiver id of a message meant for every peer.
const Broadcast = 0

func kem() hpke.KEM   { return hpke.MLKEM768X25519() }
func kdf() hpke.KDF   { return hpke.HKDFSHA256() }
func aead() hpke.AEAD { return hpke.AES256GCM() }

// Identity is an oracle's private identity. It lives only in the oracle's
// memory.
type Identity struct {
	sign ed25519.PrivateKey
	kem  hpke.PrivateKey
	pub  PublicKeys
	ch   *channels
}

// PublicKeys are an oracle's public identity keys.
type PublicKeys struct {
	Sign ed25519.PublicKey
	KEM  []byte // HPKE public key (SerializePublicKey)
}

// NewIdentity generates a fresh identity.
func NewIdentity() (*Identity, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("peer: identity key: %w", err)
	}
	k, err := kem().GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("peer: HPKE key: %w", err)
	}
	return &Identity{sign: priv, kem: k, pub: PublicKeys{Sign: pub, KEM: k.PublicKey().Bytes()}, ch: newChannels()}, nil
}

// Public returns the identity's public keys.
func (id *Identity) Public() PublicKeys { return id.pub }

// Marshal returns the canonical encoding of the public keys that an
// attestation report binds: a label, then each key with a u16 length.
func (p PublicKeys) Marshal() []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(publicKeyLabel)) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p.Sign) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(p.KEM) })
	return b.BytesOrPanic()
}

// ParsePublicKeys decodes what Marshal encodes and checks both keys.
func ParsePublicKeys(data []byte) (PublicKeys, error) {
	in := cryptobyte.String(data)
	var label, sign, kemKey cryptobyte.String
	if !in.ReadUint16LengthPrefixed(&label) || string(label) != publicKeyLabel ||
		!in.ReadUint16LengthPrefixed(&sign) || !in.ReadUint16LengthPrefixed(&kemKey) || !in.Empty() {
		return PublicKeys{}, errors.New("peer: malformed public keys")
	}
	if len(sign) != ed25519.PublicKeySize {
		return PublicKeys{}, errors.New("peer: identity key has the wrong length")
	}
	if _, err := kem().NewPublicKey(kemKey); err != nil {
		return PublicKeys{}, fmt.Errorf("peer: HPKE key: %w", err)
	}
	return PublicKeys{Sign: bytes.Clone(sign), KEM: bytes.Clone(kemKey)}, nil
}

// Header says where a message belongs.
type Header struct {
	Kind     uint8 // what protocol the payload belongs to (caller-defined)
	KeyID    [KeyIDSize]byte
	Session  [SessionIDSize]byte
	Round    uint16
	Sender   uint8
	Receiver uint8 // Broadcast for every peer
}

func (h *Header) add(b *cryptobyte.Builder) {
	b.AddUint8(Version)
	b.AddUint8(h.Kind)
	b.AddBytes(h.KeyID[:])
	b.AddBytes(h.Session[:])
	b.AddUint16(h.Round)
	b.AddUint8(h.Sender)
	b.AddUint8(h.Receiver)
}

// Envelope is one signed message.
type Envelope struct {
	Header
	Encrypted bool
	// Committed marks the opening of a hash commitment: the signature
	// covers the header and the commitment the sender signed in an earlier
	// round, not the payload bytes (see SealCommitted).
	Committed bool
	Payload   []byte // ciphertext when Encrypted
	Signature []byte
	// commitment is what a Committed envelope's signature covers; it is
	// not encoded (both ends know it).
	commitment []byte
}

// MaxCommitment bounds the commitment a Committed envelope is signed over.
const MaxCommitment = 128

// flag encodes how the payload is protected: 0 signed, 1 encrypted and
// signed, 2 bound by a commitment.
func (e *Envelope) flag() uint8 {
	switch {
	case e.Encrypted:
		return 1
	case e.Committed:
		return 2
	}
	return 0
}

// digest is SHA-256 over the domain-separated, length-prefixed encoding of
// everything the signature covers. Envelopes are signed with Ed25519ctx
// (RFC 8032, the label as context) over this digest, so that a large
// payload is hashed once to sign and once to verify, with the CPU's SHA
// instructions. SHA-256's 128-bit collision resistance matches Ed25519's
// security level.
func (e *Envelope) digest() []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(signatureLabel)) })
	e.Header.add(&b)
	b.AddUint8(e.flag())
	b.AddUint32(uint32(len(e.Payload)))
	if e.Committed {
		b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.commitment) })
		h := sha256.Sum256(b.BytesOrPanic())
		return h[:]
	}
	h := sha256.New()
	h.Write(b.BytesOrPanic())
	h.Write(e.Payload)
	return h.Sum(nil)
}

var signOpts = &ed25519.Options{Context: signatureLabel}

func (id *Identity) signEnvelope(e *Envelope) []byte {
	sig, err := id.sign.Sign(nil, e.digest(), signOpts)
	if err != nil {
		panic("peer: Ed25519ctx signing failed: " + err.Error()) // only on invalid options
	}
	return sig
}

func verifyEnvelope(pub ed25519.PublicKey, e *Envelope) bool {
	return len(pub) == ed25519.PublicKeySize && ed25519.VerifyWithOptions(pub, e.digest(), e.Signature, signOpts) == nil
}

func hpkeInfo(h *Header) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(hpkeLabel)) })
	h.add(&b)
	return b.BytesOrPanic()
}

// Seal signs payload under h. If to is not nil the payload is first
// encrypted to that receiver, which must be h.Receiver.
func (id *Identity) Seal(h Header, payload []byte, to *PublicKeys) (*Envelope, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("peer: payload of %d bytes exceeds %d", len(payload), MaxPayload)
	}
	e := &Envelope{Header: h, Payload: payload}
	if to != nil {
		if h.Receiver == Broadcast {
			return nil, errors.New("peer: an encrypted message needs a single receiver")
		}
		ct, err := id.encrypt(&h, payload, to)
		if err != nil {
			return nil, fmt.Errorf("peer: encrypting: %w", err)
		}
		e.Encrypted, e.Payload = true, ct
	}
	e.Signature = id.signEnvelope(e)
	return e, nil
}

// SealCommitted signs payload under h as the opening of a hash commitment
// that this sender signed in an earlier envelope of the same session (for
// example an ML-DSA reveal, 274 kB, opening its round-1 commitment). The
// signature covers the header, the payload length and the commitment, not
// the payload bytes: the receiver authenticates the payload by checking it
// against the commitment, which it has to do anyway, so a large payload is
// hashed once instead of twice. The payload is sent in the clear.
func (id *Identity) SealCommitted(h Header, payload, commitment []byte) (*Envelope, error) {
	if len(payload) > MaxPayload {
		return nil, fmt.Errorf("peer: payload of %d bytes exceeds %d", len(payload), MaxPayload)
	}
	if len(commitment) == 0 || len(commitment) > MaxCommitment {
		return nil, fmt.Errorf("peer: commitment of %d bytes", len(commitment))
	}
	e := &Envelope{Header: h, Committed: true, Payload: payload, commitment: commitment}
	e.Signature = id.signEnvelope(e)
	return e, nil
}

// OpenCommitted checks a Committed envelope against the commitment the
// sender signed earlier and returns the payload. The payload is NOT yet
// authenticated: the caller must check it against commitment before acting
// on it (the ML-DSA reveal check does), and must treat a mismatch as the
// sender's (or the relay's) fault.
func OpenCommitted(e *Envelope, from PublicKeys, want Header, commitment []byte) ([]byte, error) {
	if e.Header != want {
		return nil, fmt.Errorf("%w: header %+v does not match the expected %+v", ErrAuth, e.Header, want)
	}
	if !e.Committed {
		return nil, fmt.Errorf("%w: message from node %d is not bound to a commitment", ErrAuth, e.Sender)
	}
	if len(commitment) == 0 || len(commitment) > MaxCommitment {
		return nil, fmt.Errorf("%w: commitment of %d bytes", ErrAuth, len(commitment))
	}
	c := *e
	c.commitment = commitment
	if !verifyEnvelope(from.Sign, &c) {
		return nil, fmt.Errorf("%w: bad signature from node %d", ErrAuth, e.Sender)
	}
	return e.Payload, nil
}

// ErrAuth is wrapped by every authentication failure.
var ErrAuth = errors.New("peer: message authentication failed")

// ErrDecrypt is wrapped (with ErrAuth) by Open's failures to decrypt a
// payload whose signature verified: the sender signed those ciphertext
// bytes, so the failure is the sender's.
var ErrDecrypt = errors.New("peer: signed payload does not decrypt")

// Open checks that e was signed by from and is addressed as want says
// (every header field must match, the receiver may be Broadcast when want
// allows it) and returns the payload, decrypting it with me if it is
// encrypted.
func Open(e *Envelope, from PublicKeys, want Header, me *Identity) ([]byte, error) {
	if e.Header != want {
		return nil, fmt.Errorf("%w: header %+v does not match the expected %+v", ErrAuth, e.Header, want)
	}
	if e.Committed {
		return nil, fmt.Errorf("%w: message from node %d opens a commitment (use OpenCommitted)", ErrAuth, e.Sender)
	}
	if !verifyEnvelope(from.Sign, e) {
		return nil, fmt.Errorf("%w: bad signature from node %d", ErrAuth, e.Sender)
	}
	if !e.Encrypted {
		return e.Payload, nil
	}
	if me == nil {
		return nil, fmt.Errorf("%w: %w: encrypted message but no key to open it", ErrAuth, ErrDecrypt)
	}
	pt, err := me.decrypt(&e.Header, from.Sign, e.Payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: message from node %d: %v", ErrAuth, ErrDecrypt, e.Sender, err)
	}
	return pt, nil
}

// Marshal encodes e.
func (e *Envelope) Marshal() ([]byte, error) {
	if e.Encrypted && e.Committed {
		return nil, errors.New("peer: an envelope cannot be both encrypted and committed")
	}
	b := cryptobyte.NewBuilder(make([]byte, 0, envelopeOverhead+len(e.Payload)))
	e.Header.add(b)
	b.AddUint8(e.flag())
	b.AddUint24LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Payload) })
	b.AddUint8LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(e.Signature) })
	return b.Bytes()
}

// envelopeOverhead is the encoded size of an envelope less its payload.
const envelopeOverhead = 2 + KeyIDSize + SessionIDSize + 2 + 2 + 1 + 3 + 1 + ed25519.SignatureSize

// ErrMalformed is wrapped by decoding errors.
var ErrMalformed = errors.New("peer: malformed envelope")

// Unmarshal decodes data into e. It checks the format only; Open checks
// the signature. e.Payload aliases data.
func (e *Envelope) Unmarshal(data []byte) error {
	in := cryptobyte.String(data)
	var v Envelope
	var ver, enc uint8
	var key, sess []byte
	var payload, sig cryptobyte.String
	if !in.ReadUint8(&ver) || !in.ReadUint8(&v.Kind) || !in.ReadBytes(&key, KeyIDSize) ||
		!in.ReadBytes(&sess, SessionIDSize) || !in.ReadUint16(&v.Round) || !in.ReadUint8(&v.Sender) ||
		!in.ReadUint8(&v.Receiver) || !in.ReadUint8(&enc) || !in.ReadUint24LengthPrefixed(&payload) ||
		!in.ReadUint8LengthPrefixed(&sig) || !in.Empty() {
		return ErrMalformed
	}
	switch {
	case ver != Version:
		return fmt.Errorf("%w: version %d", ErrMalformed, ver)
	case enc > 2:
		return fmt.Errorf("%w: payload flag %d", ErrMalformed, enc)
	case len(payload) > MaxPayload+4096:
		return fmt.Errorf("%w: payload of %d bytes", ErrMalformed, len(payload))
	case len(sig) != ed25519.SignatureSize:
		return fmt.Errorf("%w: signature of %d bytes", ErrMalformed, len(sig))
	case v.Sender == 0 || v.Sender == v.Receiver:
		return fmt.Errorf("%w: sender %d, receiver %d", ErrMalformed, v.Sender, v.Receiver)
	}
	copy(v.KeyID[:], key)
	copy(v.Session[:], sess)
	v.Encrypted, v.Committed = enc == 1, enc == 2
	v.Payload, v.Signature = payload[:len(payload):len(payload)], bytes.Clone(sig)
	*e = v
	return nil
}

const transcriptLabel = "CC-TSA transcript signature v1"

// SignTranscript signs a protocol transcript digest with the identity key
// (domain-separated from envelope signatures).
func (id *Identity) SignTranscript(digest []byte) ([]byte, error) {
	return ed25519.Sign(id.sign, transcriptMessage(digest)), nil
}

// VerifyTranscript checks a signature made by SignTranscript.
func (p PublicKeys) VerifyTranscript(digest, sig []byte) bool {
	return len(p.Sign) == ed25519.PublicKeySize && ed25519.Verify(p.Sign, transcriptMessage(digest), sig)
}

func transcriptMessage(digest []byte) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(transcriptLabel)) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(digest) })
	return b.BytesOrPanic()
}

// Decode decodes an envelope and checks that its header is want, without
// checking the signature or decrypting. It is for a relay (the coordinator)
// that needs a payload but whose trust does not depend on it: the oracles
// authenticate every message they act on.
func Decode(raw []byte, want Header) ([]byte, error) {
	var e Envelope
	if err := e.Unmarshal(raw); err != nil {
		return nil, err
	}
	if e.Header != want || e.Encrypted {
		return nil, fmt.Errorf("%w: header %+v does not match the expected %+v", ErrAuth, e.Header, want)
	}
	return e.Payload, nil
}
