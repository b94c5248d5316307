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
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/shake4"
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

// Prefix4 captures the transcript, which must end on a block boundary (call
// PadBlock first), as a shake4.Prefix: Sum4 then computes four transcripts
// that each continue with one short fixed-format suffix, at once. The
// caller encodes the suffix exactly as Uint32 and Bytes would.
func (t *T) Prefix4() (*shake4.Prefix, error) { return shake4.NewPrefix(t.h) }

// TreeLeafSize is the length of each leaf digest of BytesTree.
const TreeLeafSize = 64

// BytesTree appends a digest of the long byte string b, whose length must be
// a multiple of 4 (the callers hash fixed-size protocol vectors; BytesTree
// panics otherwise). b is split into four equal parts b_0..b_3 and each is
// hashed on its own leaf transcript,
//
//	leaf_k = New("tree/leaf").PadBlock().Uint32(k).Bytes(b_k).Sum(64),
//
// the four side by side (shake4); then Uint32(len(b)) and Bytes(leaf_k) for
// k = 0..3 are appended to t. The leaves carry their own purpose, index and
// length, so a leaf input can never be confused with a transcript or with
// another leaf, and 512-bit leaf digests keep the 256-bit collision
// resistance of SHAKE256 (a collision of the tree gives a collision of a
// leaf or of t). Absorbing four quarter-length messages in parallel is what
// saves time: the number of permutations is the same.
func (t *T) BytesTree(b []byte) *T {
	if len(b)%4 != 0 {
		panic("transcript: BytesTree length not a multiple of 4")
	}
	c := len(b) / 4
	pre, err := New("tree/leaf").PadBlock().Prefix4()
	if err != nil {
		panic("transcript: leaf prefix not at a block boundary")
	}
	var hdr [4][8]byte
	var head, body, out [4][]byte
	var leaves [4][TreeLeafSize]byte
	for k := range hdr {
		binary.BigEndian.PutUint32(hdr[k][0:], uint32(k))
		binary.BigEndian.PutUint32(hdr[k][4:], uint32(c))
		head[k], body[k], out[k] = hdr[k][:], b[k*c:(k+1)*c], leaves[k][:]
	}
	pre.Sum4Parts(&head, &body, &out)
	t.Uint32(uint32(len(b)))
	for k := range leaves {
		t.Bytes(leaves[k][:])
	}
	clear(leaves[:]) // digests of possibly sensitive vectors (z)
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
