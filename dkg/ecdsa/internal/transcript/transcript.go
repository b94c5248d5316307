// Package transcript provides the domain-separated, length-prefixed hashing
// used for every commitment, Fiat–Shamir challenge, PRG and hash-to-scalar in
// the threshold ECDSA protocol.
//
// Every transcript starts with the protocol version, the curve name and a
// purpose tag, each length-prefixed, and every field written afterwards is
// length-prefixed (u32 big-endian) or fixed width, so distinct field
// sequences can never produce the same hash input. The hash is SHAKE256.
package transcript

import (
	"crypto/sha3"
	"encoding/binary"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
)

// Version is the protocol identifier bound into every transcript.
const Version = "cc-tsa/tecdsa/dkls23/v1"

// Curve is the curve name bound into every transcript.
const Curve = "P-384"

// Context is the binding every Fiat–Shamir transcript carries: key id,
// session id, sender, receiver and round. Sender and Receiver are party
// indices (0 for "all"/"none").
type Context struct {
	KeyID     [32]byte
	SessionID [32]byte
	Sender    uint32
	Receiver  uint32
	Round     uint32
}

// T is a transcript under construction.
type T struct {
	h   *sha3.SHAKE
	n   [4]byte
	len int // bytes absorbed so far
}

// New starts a transcript for the given purpose.
func New(purpose string) *T {
	t := &T{h: sha3.NewSHAKE256()}
	t.String(Version)
	t.String(Curve)
	t.String(purpose)
	return t
}

// Clone returns an independent copy of the transcript state (SHAKE's state
// is a plain value, so a struct copy is a deep copy).
func (t *T) Clone() *T {
	h := new(sha3.SHAKE)
	*h = *t.h
	return &T{h: h, len: t.len}
}

// CloneTo copies the transcript state into dst, reusing dst's hash state
// when it has one (hot loops clone a shared prefix thousands of times), and
// returns dst.
func (t *T) CloneTo(dst *T) *T {
	if dst.h == nil {
		dst.h = new(sha3.SHAKE)
	}
	*dst.h = *t.h
	dst.len = t.len
	return dst
}

// PadBlock appends zero bytes up to the next SHAKE256 block boundary. Used
// after a fixed prefix that many hashes share: a clone of the padded state
// then starts on a fresh block, which saves a Keccak permutation per hash.
// The padding length is a function of the (fixed-format) prefix, so it does
// not affect unambiguity.
func (t *T) PadBlock() *T {
	const rate = 136
	if r := t.len % rate; r != 0 {
		var z [rate]byte
		t.write(z[:rate-r])
	}
	return t
}

func (t *T) write(b []byte) {
	t.h.Write(b)
	t.len += len(b)
}

// Bytes appends a length-prefixed byte string.
func (t *T) Bytes(b []byte) *T {
	binary.BigEndian.PutUint32(t.n[:], uint32(len(b)))
	t.write(t.n[:])
	t.write(b)
	return t
}

// String appends a length-prefixed string.
func (t *T) String(s string) *T { return t.Bytes([]byte(s)) }

// Uint32 appends a fixed-width 4-byte big-endian integer.
func (t *T) Uint32(v uint32) *T {
	binary.BigEndian.PutUint32(t.n[:], v)
	t.write(t.n[:])
	return t
}

// Scalar appends a scalar (fixed 48 bytes).
func (t *T) Scalar(s *p384.Scalar) *T {
	b := s.Bytes()
	t.write(b)
	clear(b)
	return t
}

// Point appends a point (fixed 97 bytes; the identity is encoded as 97 zero
// bytes so the width stays fixed).
func (t *T) Point(p *p384.Point) *T {
	if p384.IsIdentity(p) {
		var z [p384.PointSize]byte
		t.write(z[:])
		return t
	}
	t.write(p.Bytes())
	return t
}

// Context appends the full Fiat–Shamir binding.
func (t *T) Context(c *Context) *T {
	t.write(c.KeyID[:])
	t.write(c.SessionID[:])
	t.Uint32(c.Sender)
	t.Uint32(c.Receiver)
	t.Uint32(c.Round)
	return t
}

// Sum finalizes the transcript and returns n bytes of output.
func (t *T) Sum(n int) []byte {
	out := make([]byte, n)
	t.h.Read(out)
	return out
}

// Sum32 finalizes the transcript and returns 32 bytes.
func (t *T) Sum32() [32]byte {
	var out [32]byte
	t.h.Read(out[:])
	return out
}

// Sum64 finalizes the transcript and returns 64 bytes.
func (t *T) Sum64() [64]byte {
	var out [64]byte
	t.h.Read(out[:])
	return out
}

// Read squeezes output from the finalized transcript (XOF use).
func (t *T) Read(p []byte) (int, error) { return t.h.Read(p) }

// SumScalar finalizes the transcript and returns a scalar derived from 384
// bits of output (bias ≤ 2^-190; see p384.Scalar.SetReducedBytes).
func (t *T) SumScalar() *p384.Scalar {
	var b [p384.ScalarSize]byte
	t.h.Read(b[:])
	s, err := p384.NewScalar().SetReducedBytes(b[:])
	if err != nil {
		panic("transcript: 48-byte reduction failed")
	}
	clear(b[:])
	return s
}
