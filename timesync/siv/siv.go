// Package siv implements AES-SIV (RFC 5297): deterministic, nonce-misuse
// resistant authenticated encryption built from AES-CMAC (S2V) and AES-CTR,
// with a vector of associated-data components.
//
// NTS (RFC 8915) uses AEAD_AES_SIV_CMAC_256 (IANA AEAD id 15, a 32-byte key)
// with the associated-data vector (AD, nonce). This package supports the three
// RFC 5297 key sizes (32, 48 and 64 bytes) and is written on top of
// crypto/aes only; all operations on keys and tags are constant time.
package siv

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"errors"
	"fmt"
)

// TagSize is the size of the synthetic IV prepended to every ciphertext.
const TagSize = 16

// MaxADComponents is the largest number of associated-data components S2V
// accepts (RFC 5297 §2.6 / §7: the vector, including the plaintext, has at
// most 127 components for a 128-bit block cipher).
const MaxADComponents = 126

// KeySizeCMAC256 is the key length of AEAD_AES_SIV_CMAC_256 (NTS AEAD id 15).
const KeySizeCMAC256 = 32

// ErrOpen is returned when a ciphertext fails authentication.
var ErrOpen = errors.New("siv: message authentication failed")

// ErrTooManyComponents is returned when more than MaxADComponents
// associated-data components are passed.
var ErrTooManyComponents = errors.New("siv: too many associated-data components")

// AEAD is an AES-SIV instance bound to one key. It is safe for concurrent use.
type AEAD struct {
	mac *cmac        // K1: S2V / CMAC key
	ctr cipher.Block // K2: CTR key
}

// New returns an AES-SIV instance. key must be 32, 48 or 64 bytes long: the
// first half is the CMAC key, the second half the CTR key (RFC 5297 §2.2).
func New(key []byte) (*AEAD, error) {
	switch len(key) {
	case 32, 48, 64:
	default:
		return nil, fmt.Errorf("siv: invalid key length %d (want 32, 48 or 64)", len(key))
	}
	half := len(key) / 2
	m, err := newCMAC(key[:half])
	if err != nil {
		return nil, err
	}
	c, err := aes.NewCipher(key[half:])
	if err != nil {
		return nil, fmt.Errorf("siv: %w", err)
	}
	return &AEAD{mac: m, ctr: c}, nil
}

// Overhead returns the number of bytes Seal adds to a plaintext.
func (a *AEAD) Overhead() int { return TagSize }

// Seal encrypts and authenticates plaintext with the associated-data vector
// ad (each element is one S2V component; for NTS: packet bytes, then nonce)
// and appends V ‖ C to dst.
func (a *AEAD) Seal(dst, plaintext []byte, ad ...[]byte) ([]byte, error) {
	if len(ad) > MaxADComponents {
		return nil, ErrTooManyComponents
	}
	var v [TagSize]byte
	a.s2v(&v, ad, plaintext)
	ret, out := sliceForAppend(dst, TagSize+len(plaintext))
	copy(out, v[:])
	a.xorCTR(out[TagSize:], plaintext, &v)
	return ret, nil
}

// Open authenticates and decrypts ciphertext (V ‖ C) with the associated-data
// vector ad and appends the plaintext to dst. On failure nothing is appended
// and ErrOpen is returned.
func (a *AEAD) Open(dst, ciphertext []byte, ad ...[]byte) ([]byte, error) {
	if len(ad) > MaxADComponents {
		return nil, ErrTooManyComponents
	}
	if len(ciphertext) < TagSize {
		return nil, ErrOpen
	}
	var v [TagSize]byte
	copy(v[:], ciphertext[:TagSize])
	ct := ciphertext[TagSize:]
	ret, out := sliceForAppend(dst, len(ct))
	a.xorCTR(out, ct, &v)
	var t [TagSize]byte
	a.s2v(&t, ad, out)
	if subtle.ConstantTimeCompare(t[:], v[:]) != 1 {
		clear(out)
		return nil, ErrOpen
	}
	return ret, nil
}

// xorCTR runs AES-CTR keyed with K2 and IV = V with bits 31 and 63 cleared.
func (a *AEAD) xorCTR(dst, src []byte, v *[TagSize]byte) {
	if len(src) == 0 {
		return
	}
	q := *v
	q[8] &= 0x7f
	q[12] &= 0x7f
	cipher.NewCTR(a.ctr, q[:]).XORKeyStream(dst, src)
}

// s2v computes S2V(K1, ad..., last) into out (RFC 5297 §2.4).
func (a *AEAD) s2v(out *[TagSize]byte, ad [][]byte, last []byte) {
	var d, tmp [TagSize]byte
	a.mac.sumZeroBlock(&d) // D = CMAC(K, <zero>)
	for _, s := range ad {
		dbl(&d)
		a.mac.sum(&tmp, s)
		subtle.XORBytes(d[:], d[:], tmp[:])
	}
	if len(last) >= TagSize {
		a.mac.sumXorEnd(out, last, &d)
		return
	}
	dbl(&d)
	var p [TagSize]byte
	copy(p[:], last)
	p[len(last)] = 0x80
	subtle.XORBytes(p[:], p[:], d[:])
	a.mac.sum(out, p[:])
}

// dbl multiplies b by x in GF(2^128) (RFC 5297 §2.3), in constant time.
func dbl(b *[TagSize]byte) {
	carry := b[0] >> 7
	for i := 0; i < TagSize-1; i++ {
		b[i] = b[i]<<1 | b[i+1]>>7
	}
	b[TagSize-1] = b[TagSize-1]<<1 ^ (0x87 & -carry)
}

func sliceForAppend(in []byte, n int) (head, tail []byte) {
	if total := len(in) + n; cap(in) >= total {
		head = in[:total]
	} else {
		head = make([]byte, total)
		copy(head, in)
	}
	tail = head[len(in):]
	return
}
