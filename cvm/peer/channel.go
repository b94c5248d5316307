package peer

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/cryptobyte"
)

// Confidential payloads are encrypted under pairwise channel secrets rather
// than with one HPKE encapsulation per message (an ML-KEM-768 + X25519
// encapsulation and decapsulation cost about 0.2 ms each, and a 3-of-5
// presignature alone sends eight confidential messages).
//
// The sender encapsulates once to the receiver's attested HPKE key, with
// both parties' identity keys as HPKE info, and exports a 32-byte channel
// secret. Every encrypted payload carries that encapsulation (enc) and a
// fresh random 16-byte salt; the message key is
//
//	HKDF-SHA256(secret, salt, label ‖ header)
//
// and the payload is sealed with AES-256-GCM under it (zero nonce: each key
// seals exactly one message), with the header encoding as additional data.
// The receiver decapsulates a given enc once and keeps the secret in a
// bounded cache. The envelope signature covers enc, salt and ciphertext, so
// only the sender can use its channel. The sender starts a new channel after
// channelMaxAge or channelMaxUses messages.
//
// Encrypted payload layout: u16 length ‖ enc ‖ salt (16) ‖ AES-256-GCM ciphertext.

const (
	channelLabel    = "CC-TSA peer channel v1"
	channelExport   = "CC-TSA peer channel secret v1"
	messageKeyLabel = "CC-TSA peer message key v1"
	saltSize        = 16
	channelMaxAge   = time.Hour
	channelMaxUses  = 1 << 20
	// maxInChannels bounds the receiver's cache of decapsulated channels.
	maxInChannels = 256
	maxEncSize    = 4096
)

// channels holds an identity's pairwise channel secrets. Secrets live in
// memory only.
type channels struct {
	mu  sync.Mutex
	out map[string]*outChannel // by receiver HPKE public key
	in  map[[32]byte][]byte    // by SHA-256(sender identity key ‖ enc)
	// inOrder lists the keys of in, oldest first, for eviction.
	inOrder [][32]byte
}

type outChannel struct {
	enc     []byte
	secret  []byte
	created time.Time
	uses    int
}

func newChannels() *channels {
	return &channels{out: map[string]*outChannel{}, in: map[[32]byte][]byte{}}
}

// channelInfo is the HPKE info of a channel from sender to the holder of
// receiverKEM.
func channelInfo(sender []byte, receiverKEM []byte) []byte {
	var b cryptobyte.Builder
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes([]byte(channelLabel)) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(sender) })
	b.AddUint16LengthPrefixed(func(b *cryptobyte.Builder) { b.AddBytes(receiverKEM) })
	return b.BytesOrPanic()
}

// outbound returns the current channel to receiver, opening a new one if
// there is none or it has been used enough.
func (id *Identity) outbound(to *PublicKeys) (enc, secret []byte, err error) {
	id.ch.mu.Lock()
	defer id.ch.mu.Unlock()
	c := id.ch.out[string(to.KEM)]
	if c == nil || c.uses >= channelMaxUses || time.Since(c.created) > channelMaxAge {
		pk, err := kem().NewPublicKey(to.KEM)
		if err != nil {
			return nil, nil, fmt.Errorf("peer: receiver's HPKE key: %w", err)
		}
		enc, s, err := hpke.NewSender(pk, kdf(), aead(), channelInfo(id.pub.Sign, to.KEM))
		if err != nil {
			return nil, nil, fmt.Errorf("peer: opening a channel: %w", err)
		}
		secret, err := s.Export(channelExport, 32)
		if err != nil {
			return nil, nil, fmt.Errorf("peer: channel secret: %w", err)
		}
		if c != nil {
			clear(c.secret)
		}
		c = &outChannel{enc: enc, secret: secret, created: time.Now()}
		id.ch.out[string(to.KEM)] = c
	}
	c.uses++
	return c.enc, c.secret, nil
}

// inbound returns the secret of the channel enc from the sender with
// identity key from, decapsulating it the first time.
func (id *Identity) inbound(from []byte, enc []byte) ([]byte, error) {
	h := sha256.New()
	h.Write(from)
	h.Write(enc)
	var k [32]byte
	h.Sum(k[:0])
	id.ch.mu.Lock()
	if s, ok := id.ch.in[k]; ok {
		id.ch.mu.Unlock()
		return s, nil
	}
	id.ch.mu.Unlock()
	r, err := hpke.NewRecipient(enc, id.kem, kdf(), aead(), channelInfo(from, id.pub.KEM))
	if err != nil {
		return nil, err
	}
	secret, err := r.Export(channelExport, 32)
	if err != nil {
		return nil, err
	}
	id.ch.mu.Lock()
	defer id.ch.mu.Unlock()
	if s, ok := id.ch.in[k]; ok {
		clear(secret)
		return s, nil
	}
	if len(id.ch.inOrder) >= maxInChannels {
		old := id.ch.inOrder[0]
		clear(id.ch.in[old])
		delete(id.ch.in, old)
		id.ch.inOrder = id.ch.inOrder[1:]
	}
	id.ch.in[k] = secret
	id.ch.inOrder = append(id.ch.inOrder, k)
	return secret, nil
}

// messageAEAD derives the single-use AES-256-GCM instance of one message.
func messageAEAD(secret, salt []byte, h *Header) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha256.New, secret, salt, messageKeyLabel+string(hpkeInfo(h)), 32)
	if err != nil {
		return nil, err
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

var zeroNonce [12]byte

// encrypt seals payload for the receiver under h.
func (id *Identity) encrypt(h *Header, payload []byte, to *PublicKeys) ([]byte, error) {
	enc, secret, err := id.outbound(to)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 2+len(enc)+saltSize, 2+len(enc)+saltSize+len(payload)+16)
	binary.BigEndian.PutUint16(out, uint16(len(enc)))
	copy(out[2:], enc)
	salt := out[2+len(enc):]
	rand.Read(salt)
	g, err := messageAEAD(secret, salt, h)
	if err != nil {
		return nil, fmt.Errorf("peer: message key: %w", err)
	}
	return g.Seal(out, zeroNonce[:], payload, hpkeInfo(h)), nil
}

var errCiphertext = errors.New("malformed ciphertext")

// decrypt opens a payload sealed by encrypt, from the sender with identity
// key from.
func (id *Identity) decrypt(h *Header, from []byte, ct []byte) ([]byte, error) {
	s := cryptobyte.String(ct)
	var enc, salt []byte
	var n uint16
	if !s.ReadUint16(&n) || n == 0 || n > maxEncSize || !s.ReadBytes(&enc, int(n)) || !s.ReadBytes(&salt, saltSize) || len(s) < 16 {
		return nil, errCiphertext
	}
	secret, err := id.inbound(from, enc)
	if err != nil {
		return nil, fmt.Errorf("opening the channel: %w", err)
	}
	g, err := messageAEAD(secret, salt, h)
	if err != nil {
		return nil, err
	}
	return g.Open(nil, zeroNonce[:], s, hpkeInfo(h))
}
