package mldsa

import (
	"bytes"
	"crypto/subtle"
	"fmt"
	"slices"

	"golang.org/x/crypto/cryptobyte"
)

// SubsetSecret is one subset secret s_I of a key, packed as in the key
// share encoding (the s1 then s2 polynomials, η-packed). It is secret: send
// it only over a confidential, authenticated channel, and zeroize it.
type SubsetSecret struct {
	Mask   uint8
	Secret []byte
}

// Zeroize erases the secret.
func (s *SubsetSecret) Zeroize() { clear(s.Secret) }

// SubsetSecretsFor returns the subset secrets that party target needs and
// this share holds: those of every subset containing both. Used to hand a
// replacement node its share at the same index; the public key does not
// change.
func (ks *KeyShare) SubsetSecretsFor(target int) ([]SubsetSecret, error) {
	if target < 0 || target >= ks.params.N || target == ks.id {
		return nil, fmt.Errorf("%w: target %d", ErrMalformed, target)
	}
	enc, err := ks.MarshalBinary()
	if err != nil {
		return nil, err
	}
	defer clear(enc)
	in := cryptobyte.String(enc)
	var hdr, pk []byte
	var count uint8
	if !in.ReadBytes(&hdr, 5) || !in.ReadBytes(&pk, PublicKeySize) || !in.ReadUint8(&count) {
		return nil, malformed("key share encoding")
	}
	var out []SubsetSecret
	for i := 0; i < int(count); i++ {
		var entry []byte
		if !in.ReadBytes(&entry, subsetSecretSize) {
			return nil, malformed("key share encoding")
		}
		if entry[0]&(1<<target) != 0 {
			out = append(out, SubsetSecret{Mask: entry[0], Secret: bytes.Clone(entry[1:])})
		}
	}
	return out, nil
}

// AssembleShare builds party id's key share for public key pk from subset
// secrets received from helpers. Every subset containing id must be
// present; a subset given by several helpers must be given identically (a
// disagreement is an error naming the subset). ParseKeyShare's checks apply
// (shape, coefficient ranges).
func AssembleShare(pk *PublicKey, t, n, id int, secrets []SubsetSecret) (*KeyShare, error) {
	if _, err := ParamsFor(t, n); err != nil {
		return nil, err
	}
	if id < 0 || id >= n {
		return nil, fmt.Errorf("%w: party %d", ErrMalformed, id)
	}
	byMask := map[uint8][]byte{}
	for _, s := range secrets {
		if len(s.Secret) != subsetSecretSize-1 || s.Mask&(1<<id) == 0 {
			return nil, fmt.Errorf("%w: subset secret for mask %#x", ErrMalformed, s.Mask)
		}
		if prev, ok := byMask[s.Mask]; ok {
			if subtle.ConstantTimeCompare(prev, s.Secret) != 1 {
				return nil, fmt.Errorf("mldsa: helpers disagree on the secret of subset %#x", s.Mask)
			}
			continue
		}
		byMask[s.Mask] = s.Secret
	}
	masks := make([]uint8, 0, len(byMask))
	for m := range byMask {
		masks = append(masks, m)
	}
	slices.Sort(masks)
	var b cryptobyte.Builder
	b.AddUint8(wireVersion)
	b.AddUint8(typeKeyShare)
	b.AddUint8(uint8(t))
	b.AddUint8(uint8(n))
	b.AddUint8(uint8(id))
	b.AddBytes(pk.Bytes())
	b.AddUint8(uint8(len(masks)))
	for _, m := range masks {
		b.AddUint8(m)
		b.AddBytes(byMask[m])
	}
	enc, err := b.Bytes()
	if err != nil {
		return nil, err
	}
	defer clear(enc)
	return ParseKeyShare(enc)
}
