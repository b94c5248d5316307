package ecdsa

import (
	"fmt"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
)

// Wire format: every message starts with a one-byte type tag and a one-byte
// format version, followed by fixed-width fields. Decoders require the exact
// length, valid party indices, points on the curve and not the identity, and
// scalars < n.

const wireVersion = 1

// presignWireVersion is the format version of PresignRound1 and
// PresignRound2. It is 2 since performance session 3 changed how the RVOLE
// and OT-extension challenges hash their long vectors (transcript.BytesTree):
// a peer still running version 1 would fail the OT-extension or μ check
// against a version-2 peer and ban the pair, so the two versions refuse each
// other's presigning messages at decoding instead (ErrDecode, no ban).
// Version 3 added the Binding field (the sender's session context and
// pairwise-setup id), checked before any check that can ban.
const presignWireVersion = 3

// versionOf returns the format version of messages with the given tag.
func versionOf(tag byte) byte {
	if tag == tagPre1 || tag == tagPre2 {
		return presignWireVersion
	}
	return wireVersion
}

// Message type tags.
const (
	tagDKG1B byte = 0x11 + iota
	tagDKG1D
	tagDKG2B
	tagDKG2D
	tagDKG3B
	tagDKGOT
	tagPre1
	tagPre2
	tagShare
	tagPair
	tagReshare
)

type writer struct{ b []byte }

func newWriter(tag byte, size int) *writer {
	w := &writer{b: make([]byte, 0, size)}
	w.b = append(w.b, tag, versionOf(tag))
	return w
}

func (w *writer) u8(v int)      { w.b = append(w.b, byte(v)) }
func (w *writer) put(b []byte)  { w.b = append(w.b, b...) }
func (w *writer) bytes() []byte { return w.b }

type reader struct {
	b   []byte
	err error
}

func newReader(b []byte, tag byte, size int) *reader {
	r := &reader{b: b}
	if len(b) != size {
		r.err = fmt.Errorf("%w: length %d, want %d", ErrDecode, len(b), size)
		return r
	}
	if b[0] != tag || b[1] != versionOf(tag) {
		r.err = fmt.Errorf("%w: wrong type or version", ErrDecode)
		return r
	}
	r.b = b[2:]
	return r
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return make([]byte, n)
	}
	if len(r.b) < n {
		r.err = fmt.Errorf("%w: truncated", ErrDecode)
		return make([]byte, n)
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) party(name string) int {
	v := int(r.take(1)[0])
	if r.err == nil && (v < 1 || v > Parties) {
		r.err = fmt.Errorf("%w: %s index %d out of range", ErrDecode, name, v)
	}
	return v
}

func (r *reader) point(dst *[p384.PointSize]byte, name string) {
	copy(dst[:], r.take(p384.PointSize))
	if r.err == nil {
		if _, err := p384.ParsePoint(dst[:]); err != nil {
			r.err = fmt.Errorf("%w: %s: %v", ErrDecode, name, err)
		}
	}
}

func (r *reader) scalar(dst *[p384.ScalarSize]byte, name string) {
	copy(dst[:], r.take(p384.ScalarSize))
	if r.err == nil {
		if _, err := p384.NewScalar().SetBytes(dst[:]); err != nil {
			r.err = fmt.Errorf("%w: %s: %v", ErrDecode, name, err)
		}
	}
}

func (r *reader) fixed(dst []byte) { copy(dst, r.take(len(dst))) }

func (r *reader) done() error {
	if r.err == nil && len(r.b) != 0 {
		r.err = fmt.Errorf("%w: trailing bytes", ErrDecode)
	}
	return r.err
}
