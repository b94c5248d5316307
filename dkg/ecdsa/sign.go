package ecdsa

import (
	"bytes"
	stdecdsa "crypto/ecdsa"
	"crypto/sha512"
	"fmt"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/cryptobyte/asn1"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
)

// DigestSize is the required digest length (SHA-384).
const DigestSize = sha512.Size384

// Sign produces this party's online share for digest (a SHA-384 digest)
// from a presignature. The presignature is marked consumed before anything
// is computed, so a second call, concurrent or not, fails with ErrConsumed;
// an expired presignature is burnt and refused. Until the key is confirmed
// (ConfirmKey) only confirmation digests may be signed.
func Sign(ps *Presignature, digest []byte) (*SignShare, error) {
	if ps == nil {
		return nil, ErrState
	}
	if len(digest) != DigestSize {
		return nil, ErrDigest
	}
	share := ps.signer.share
	if !share.Confirmed() && !isConfirmationDigest(share, ps.set[:], digest) {
		return nil, ErrUnconfirmed
	}
	if !ps.consumed.CompareAndSwap(false, true) {
		return nil, ErrConsumed
	}
	defer ps.release()
	if ps.signer.cfg.Now().After(ps.expires) {
		return nil, ErrExpired
	}
	e, err := p384.NewScalar().SetReducedBytes(digest)
	if err != nil {
		return nil, ErrDigest
	}
	w := p384.NewScalar().Mul(e, ps.phi)
	w.Add(w, p384.NewScalar().Mul(ps.r, ps.v))
	out := &SignShare{SessionID: ps.sid, From: share.self, Signers: ps.set}
	copy(out.R[:], ps.R.Bytes())
	w.PutBytes(out.W[:])
	ps.u.PutBytes(out.U[:])
	w.Zeroize()
	return out, nil
}

func (ps *Presignature) release() {
	ps.wipe()
	s := ps.signer
	s.mu.Lock()
	delete(s.live, ps)
	s.mu.Unlock()
}

// Combine assembles the Threshold shares of one session into a DER-encoded
// ECDSA signature over digest, in low-s form (s <= (n-1)/2), and verifies it
// against pub with crypto/ecdsa before returning it. A signature that does not verify is never returned
// (AbortError wrapping ErrInvalidSig; the culprit cannot be identified).
func Combine(pub *stdecdsa.PublicKey, digest []byte, shares []*SignShare) ([]byte, error) {
	if len(digest) != DigestSize {
		return nil, ErrDigest
	}
	if pub == nil || len(shares) != Threshold {
		return nil, fmt.Errorf("%w: need exactly %d shares", ErrShares, Threshold)
	}
	for _, s := range shares {
		if s == nil {
			return nil, fmt.Errorf("%w: nil share", ErrShares)
		}
	}
	first := shares[0]
	if err := validSet(first.Signers[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrShares, err)
	}
	R, err := p384.ParsePoint(first.R[:])
	if err != nil {
		return nil, fmt.Errorf("%w: R: %v", ErrShares, err)
	}
	var got [Parties + 1]bool
	W, U := p384.NewScalar(), p384.NewScalar()
	for _, s := range shares {
		if s.SessionID != first.SessionID || s.Signers != first.Signers || s.R != first.R {
			return nil, fmt.Errorf("%w: session, signer set or R differ", ErrShares)
		}
		member := false
		for _, j := range first.Signers {
			member = member || j == s.From
		}
		if !member || got[s.From] {
			return nil, fmt.Errorf("%w: share from %d not expected", ErrShares, s.From)
		}
		got[s.From] = true
		w, err := p384.NewScalar().SetBytes(s.W[:])
		if err != nil {
			return nil, &AbortError{Culprit: s.From, Reason: "invalid w", Err: err}
		}
		u, err := p384.NewScalar().SetBytes(s.U[:])
		if err != nil {
			return nil, &AbortError{Culprit: s.From, Reason: "invalid u", Err: err}
		}
		W.Add(W, w)
		U.Add(U, u)
	}
	if U.IsZero() == 1 {
		return nil, &AbortError{Reason: "Σu = 0", Err: ErrInvalidSig}
	}
	sig := p384.NewScalar().Mul(W, p384.NewScalar().Inverse(U))
	r, err := p384.XScalar(R)
	if err != nil || r.IsZero() == 1 || sig.IsZero() == 1 {
		return nil, &AbortError{Reason: "r or s is zero", Err: ErrInvalidSig}
	}
	// (r, s) and (r, n-s) both verify; release only the low-s form, so
	// that one session yields one signature encoding. s is public here.
	if isHighS(sig.Bytes()) {
		sig.Neg(sig)
	}
	der, err := encodeSignature(r.Bytes(), sig.Bytes())
	if err != nil {
		return nil, err
	}
	if !stdecdsa.VerifyASN1(pub, digest, der) {
		return nil, &AbortError{Reason: "combined signature does not verify; burn the session and retry with other subsets", Err: ErrInvalidSig}
	}
	return der, nil
}

// isHighS reports whether the big-endian 48-byte scalar s exceeds
// (n-1)/2, the largest low-s value. s is public; the comparison need not be
// constant-time.
func isHighS(s []byte) bool {
	n := p384.Order()
	half := make([]byte, len(n)) // n >> 1, which is (n-1)/2 as n is odd
	var carry byte
	for i, b := range n {
		half[i] = carry | b>>1
		carry = b << 7
	}
	return bytes.Compare(s, half) > 0
}

// encodeSignature returns the DER SEQUENCE { INTEGER r, INTEGER s } for
// nonzero big-endian r and s (public values).
func encodeSignature(r, s []byte) ([]byte, error) {
	var b cryptobyte.Builder
	b.AddASN1(asn1.SEQUENCE, func(b *cryptobyte.Builder) {
		addPositiveInt(b, r)
		addPositiveInt(b, s)
	})
	return b.Bytes()
}

// addPositiveInt appends a DER INTEGER holding the positive big-endian value v.
func addPositiveInt(b *cryptobyte.Builder, v []byte) {
	for len(v) > 1 && v[0] == 0 {
		v = v[1:]
	}
	b.AddASN1(asn1.INTEGER, func(b *cryptobyte.Builder) {
		if v[0]&0x80 != 0 {
			b.AddUint8(0)
		}
		b.AddBytes(v)
	})
}
