// Package p384 wraps the constant-time P-384 group (filippo.io/nistec) and
// its scalar field mod n (filippo.io/bigmod) with the strict encodings used by
// the threshold ECDSA protocol: 48-byte big-endian scalars that must be
// reduced (values ≥ n are rejected, never reduced) and 97-byte uncompressed
// SEC 1 points that must not be the identity.
package p384

import (
	"crypto/subtle"
	"errors"
	"io"

	"filippo.io/bigmod"
	"filippo.io/nistec"
)

// ScalarSize is the length of an encoded scalar.
const ScalarSize = 48

// PointSize is the length of an encoded (uncompressed SEC 1) point.
const PointSize = 97

// orderBytes is the group order n of P-384, big-endian.
var orderBytes = [ScalarSize]byte{
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf, 0x58, 0x1a, 0x0d, 0xb2,
	0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
}

// order is the modulus n. It is created once and never modified.
var order = func() *bigmod.Modulus {
	m, err := bigmod.NewModulus(orderBytes[:])
	if err != nil {
		panic("p384: invalid group order")
	}
	return m
}()

// nMinus2 is n-2, the exponent for inversion by Fermat's little theorem.
var nMinus2 = func() []byte {
	b := orderBytes
	b[ScalarSize-1] -= 2
	return b[:]
}()

// Errors returned by the decoders.
var (
	ErrScalarLength   = errors.New("p384: scalar encoding has wrong length")
	ErrScalarRange    = errors.New("p384: scalar is not less than the group order")
	ErrPointLength    = errors.New("p384: point encoding has wrong length")
	ErrPointEncoding  = errors.New("p384: invalid point encoding")
	ErrPointIdentity  = errors.New("p384: point is the identity")
	ErrRandomness     = errors.New("p384: reading randomness failed")
	ErrScalarOverflow = errors.New("p384: value does not fit the scalar field")
)

// Order returns a copy of the big-endian group order n.
func Order() []byte { b := orderBytes; return b[:] }

// Scalar is an element of Z/nZ. The zero value is not usable; use NewScalar.
type Scalar struct {
	n *bigmod.Nat
}

// NewScalar returns a new scalar set to zero.
func NewScalar() *Scalar {
	var zero [ScalarSize]byte
	n, _ := bigmod.NewNat().SetBytes(zero[:], order)
	return &Scalar{n: n}
}

// ScalarFromUint64 returns the scalar v.
func ScalarFromUint64(v uint64) *Scalar {
	var b [ScalarSize]byte
	for i := 0; i < 8; i++ {
		b[ScalarSize-1-i] = byte(v >> (8 * i))
	}
	s, _ := NewScalar().SetBytes(b[:])
	return s
}

// SetBytes sets s to the 48-byte big-endian value b. It rejects any other
// length and any value ≥ n.
func (s *Scalar) SetBytes(b []byte) (*Scalar, error) {
	if len(b) != ScalarSize {
		return nil, ErrScalarLength
	}
	if _, err := s.n.SetBytes(b, order); err != nil {
		return nil, ErrScalarRange
	}
	return s, nil
}

// SetReducedBytes sets s to the 48-byte big-endian value b reduced mod n.
// It is meant for hash and random outputs only: since n > 2^384 - 2^190,
// a uniform 384-bit input gives a scalar within statistical distance 2^-190
// of uniform. Values received from peers must use SetBytes instead.
func (s *Scalar) SetReducedBytes(b []byte) (*Scalar, error) {
	if len(b) != ScalarSize {
		return nil, ErrScalarLength
	}
	if _, err := s.n.SetOverflowingBytes(b, order); err != nil {
		return nil, ErrScalarOverflow
	}
	return s, nil
}

// Random sets s to a uniformly random scalar read from r (384 bits,
// reduced once; see SetReducedBytes for the bias bound).
func (s *Scalar) Random(r io.Reader) (*Scalar, error) {
	var b [ScalarSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, ErrRandomness
	}
	_, err := s.SetReducedBytes(b[:])
	clear(b[:])
	return s, err
}

// RandomNonZero is Random, retried until the result is nonzero.
func (s *Scalar) RandomNonZero(r io.Reader) (*Scalar, error) {
	for {
		if _, err := s.Random(r); err != nil {
			return nil, err
		}
		if s.IsZero() == 0 {
			return s, nil
		}
	}
}

// Bytes returns the 48-byte big-endian encoding of s.
func (s *Scalar) Bytes() []byte { return s.n.Bytes(order) }

// PutBytes writes the 48-byte encoding of s into dst, which must have length 48.
func (s *Scalar) PutBytes(dst []byte) {
	b := s.n.Bytes(order)
	copy(dst[:ScalarSize], b)
	clear(b)
}

// Set sets s = t.
func (s *Scalar) Set(t *Scalar) *Scalar {
	if s == t {
		return s
	}
	s.n.Sub(s.n, order) // s = 0, in constant time
	s.n.Add(t.n, order)
	return s
}

// Clone returns a copy of s.
func (s *Scalar) Clone() *Scalar { return NewScalar().Set(s) }

// Add sets s = a + b mod n.
func (s *Scalar) Add(a, b *Scalar) *Scalar {
	if s != a {
		s.Set(a)
	}
	s.n.Add(b.n, order)
	return s
}

// Sub sets s = a - b mod n.
func (s *Scalar) Sub(a, b *Scalar) *Scalar {
	if s != a {
		s.Set(a)
	}
	s.n.Sub(b.n, order)
	return s
}

// Mul sets s = a · b mod n.
func (s *Scalar) Mul(a, b *Scalar) *Scalar {
	if s != a {
		s.Set(a)
	}
	s.n.Mul(b.n, order)
	return s
}

// Neg sets s = -a mod n.
func (s *Scalar) Neg(a *Scalar) *Scalar {
	t := NewScalar()
	t.n.Sub(a.n, order)
	s.Set(t)
	t.Zeroize()
	return s
}

// Inverse sets s = a^-1 mod n in constant time (a^(n-2)); the inverse of
// zero is zero.
func (s *Scalar) Inverse(a *Scalar) *Scalar {
	t := bigmod.NewNat()
	t.Exp(a.n, nMinus2, order)
	s.n.SetBytes(t.Bytes(order), order)
	return s
}

// Equal returns 1 if s == t and 0 otherwise, in constant time.
func (s *Scalar) Equal(t *Scalar) int { return int(s.n.Equal(t.n)) }

// IsZero returns 1 if s == 0 and 0 otherwise, in constant time.
func (s *Scalar) IsZero() int { return int(s.n.IsZero()) }

// Zeroize overwrites s with zero.
func (s *Scalar) Zeroize() {
	if s == nil || s.n == nil {
		return
	}
	s.n.Sub(s.n, order)
}

// AddMasked sets s = s + bit·t where bit is 0 or 1, in constant time, given
// the 48-byte encoding tb of t. It is used for secret-dependent conditional
// sums such as χ = Σ β_j·g_j.
func (s *Scalar) AddMasked(tb []byte, bit byte) *Scalar {
	var m [ScalarSize]byte
	mask := -(bit & 1)
	for i := range m {
		m[i] = tb[i] & mask
	}
	t := bigmod.NewNat()
	if _, err := t.SetBytes(m[:], order); err != nil {
		// tb was produced by Bytes or validated by SetBytes, so this cannot
		// happen; keep the value unchanged rather than panic.
		return s
	}
	s.n.Add(t, order)
	clear(m[:])
	return s
}

// SubMasked sets s = s - bit·t (see AddMasked).
func (s *Scalar) SubMasked(tb []byte, bit byte) *Scalar {
	var m [ScalarSize]byte
	mask := -(bit & 1)
	for i := range m {
		m[i] = tb[i] & mask
	}
	t := bigmod.NewNat()
	if _, err := t.SetBytes(m[:], order); err != nil {
		return s
	}
	s.n.Sub(t, order)
	clear(m[:])
	return s
}

// ScalarEqualBytes compares two scalar encodings in constant time.
func ScalarEqualBytes(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// Point is a P-384 group element.
type Point = nistec.P384Point

// NewIdentity returns the identity point.
func NewIdentity() *Point { return nistec.NewP384Point() }

// Generator returns the base point G.
func Generator() *Point { return nistec.NewP384Point().SetGenerator() }

// BaseMul returns s·G.
func BaseMul(s *Scalar) *Point {
	b := s.Bytes()
	p, err := nistec.NewP384Point().ScalarBaseMult(b)
	clear(b)
	if err != nil {
		panic("p384: ScalarBaseMult rejected a 48-byte scalar")
	}
	return p
}

// Mul returns s·P.
func Mul(p *Point, s *Scalar) *Point {
	b := s.Bytes()
	q, err := nistec.NewP384Point().ScalarMult(p, b)
	clear(b)
	if err != nil {
		panic("p384: ScalarMult rejected a 48-byte scalar")
	}
	return q
}

// Add returns P + Q.
func Add(p, q *Point) *Point { return nistec.NewP384Point().Add(p, q) }

// Sub returns P - Q.
func Sub(p, q *Point) *Point {
	n := nistec.NewP384Point().Negate(q)
	return n.Add(p, n)
}

// Equal reports whether P == Q.
func Equal(p, q *Point) bool { return p.Equal(q) == 1 }

// IsIdentity reports whether P is the identity.
func IsIdentity(p *Point) bool { return p.IsInfinity() == 1 }

// ParsePoint decodes a 97-byte uncompressed point, rejecting other lengths,
// off-curve points and the identity.
func ParsePoint(b []byte) (*Point, error) {
	if len(b) != PointSize {
		return nil, ErrPointLength
	}
	if b[0] != 4 {
		return nil, ErrPointEncoding
	}
	p, err := nistec.NewP384Point().SetBytes(b)
	if err != nil {
		return nil, ErrPointEncoding
	}
	if p.IsInfinity() == 1 {
		return nil, ErrPointIdentity
	}
	return p, nil
}

// EncodePoint returns the 97-byte uncompressed encoding of P, which must not
// be the identity (the identity encodes as a single zero byte in SEC 1; the
// caller must have rejected it).
func EncodePoint(p *Point) []byte { return p.Bytes() }

// XScalar returns x(P) mod n, the ECDSA r value, for P ≠ identity.
func XScalar(p *Point) (*Scalar, error) {
	x, err := p.BytesX()
	if err != nil {
		return nil, ErrPointIdentity
	}
	return NewScalar().SetReducedBytes(x)
}
