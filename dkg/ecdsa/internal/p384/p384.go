// Package p384 wraps the constant-time P-384 group (filippo.io/nistec) and
// its scalar field mod n (a fixed-size, constant-time Montgomery field; see
// field.go) with the strict encodings used by the threshold ECDSA protocol: 48-byte big-endian scalars that must be
// reduced (values ≥ n are rejected, never reduced) and 97-byte uncompressed
// SEC 1 points that must not be the identity.
package p384

import (
	"crypto/subtle"
	"errors"
	"io"

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

// Errors returned by the decoders.
var (
	ErrScalarLength  = errors.New("p384: scalar encoding has wrong length")
	ErrScalarRange   = errors.New("p384: scalar is not less than the group order")
	ErrPointLength   = errors.New("p384: point encoding has wrong length")
	ErrPointEncoding = errors.New("p384: invalid point encoding")
	ErrPointIdentity = errors.New("p384: point is the identity")
	ErrRandomness    = errors.New("p384: reading randomness failed")
)

// Order returns a copy of the big-endian group order n.
func Order() []byte { b := orderBytes; return b[:] }

// Scalar is an element of Z/nZ, held in the constant-time Montgomery field
// of field.go. The zero value is the scalar 0; NewScalar is the usual
// constructor.
type Scalar struct {
	v fe
}

// NewScalar returns a new scalar set to zero.
func NewScalar() *Scalar { return new(Scalar) }

// ScalarFromUint64 returns the scalar v.
func ScalarFromUint64(v uint64) *Scalar {
	s := new(Scalar)
	x := fe{v}
	r2 := feR2()
	felMontMul(&s.v, &x, &r2)
	return s
}

// SetBytes sets s to the 48-byte big-endian value b. It rejects any other
// length and any value ≥ n (s is left unchanged on error).
func (s *Scalar) SetBytes(b []byte) (*Scalar, error) {
	if len(b) != ScalarSize {
		return nil, ErrScalarLength
	}
	if felFromBytes(&s.v, (*[ScalarSize]byte)(b)) != 1 {
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
	felFromReducedBytes(&s.v, (*[ScalarSize]byte)(b))
	return s, nil
}

// Random sets s to a uniformly random scalar read from r (384 bits,
// reduced once; see SetReducedBytes for the bias bound).
func (s *Scalar) Random(r io.Reader) (*Scalar, error) {
	var b [ScalarSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return nil, ErrRandomness
	}
	felFromReducedBytes(&s.v, &b)
	clear(b[:])
	return s, nil
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
func (s *Scalar) Bytes() []byte {
	b := make([]byte, ScalarSize)
	felToBytes(b, &s.v)
	return b
}

// PutBytes writes the 48-byte encoding of s into dst, which must have length
// at least 48.
func (s *Scalar) PutBytes(dst []byte) { felToBytes(dst[:ScalarSize], &s.v) }

// Set sets s = t.
func (s *Scalar) Set(t *Scalar) *Scalar {
	s.v = t.v
	return s
}

// Clone returns a copy of s.
func (s *Scalar) Clone() *Scalar { return &Scalar{v: s.v} }

// Add sets s = a + b mod n.
func (s *Scalar) Add(a, b *Scalar) *Scalar {
	felAdd(&s.v, &a.v, &b.v)
	return s
}

// Sub sets s = a - b mod n.
func (s *Scalar) Sub(a, b *Scalar) *Scalar {
	felSub(&s.v, &a.v, &b.v)
	return s
}

// Mul sets s = a · b mod n.
func (s *Scalar) Mul(a, b *Scalar) *Scalar {
	felMontMul(&s.v, &a.v, &b.v)
	return s
}

// Neg sets s = -a mod n.
func (s *Scalar) Neg(a *Scalar) *Scalar {
	var zero fe
	felSub(&s.v, &zero, &a.v)
	return s
}

// Inverse sets s = a^-1 mod n in constant time (a^(n-2)); the inverse of
// zero is zero.
func (s *Scalar) Inverse(a *Scalar) *Scalar {
	felInverse(&s.v, &a.v)
	return s
}

// Equal returns 1 if s == t and 0 otherwise, in constant time.
func (s *Scalar) Equal(t *Scalar) int { return int(felEqual(&s.v, &t.v)) }

// IsZero returns 1 if s == 0 and 0 otherwise, in constant time.
func (s *Scalar) IsZero() int { return int(felIsZero(&s.v)) }

// Zeroize overwrites s with zero.
func (s *Scalar) Zeroize() {
	if s == nil {
		return
	}
	clear(s.v[:])
}

// AddMasked sets s = s + bit·t where bit is 0 or 1, in constant time, given
// the 48-byte encoding tb of t. It is used for secret-dependent conditional
// sums such as χ = Σ β_j·g_j. tb must be a canonical encoding (produced by
// Bytes or validated by SetBytes); otherwise s is left unchanged.
func (s *Scalar) AddMasked(tb []byte, bit byte) *Scalar {
	var t Scalar
	if len(tb) != ScalarSize || felFromBytes(&t.v, (*[ScalarSize]byte)(tb)) != 1 {
		return s
	}
	s.AddMaskedScalar(&t, bit)
	t.Zeroize()
	return s
}

// SubMasked sets s = s - bit·t (see AddMasked).
func (s *Scalar) SubMasked(tb []byte, bit byte) *Scalar {
	var t Scalar
	if len(tb) != ScalarSize || felFromBytes(&t.v, (*[ScalarSize]byte)(tb)) != 1 {
		return s
	}
	s.SubMaskedScalar(&t, bit)
	t.Zeroize()
	return s
}

// AddMaskedScalar sets s = s + bit·t where bit is 0 or 1, in constant time:
// t is masked limb by limb, the addition always runs.
func (s *Scalar) AddMaskedScalar(t *Scalar, bit byte) *Scalar {
	var m fe
	mask := -uint64(bit & 1)
	for i := range m {
		m[i] = t.v[i] & mask
	}
	felAdd(&s.v, &s.v, &m)
	clear(m[:])
	return s
}

// SubMaskedScalar sets s = s - bit·t (see AddMaskedScalar).
func (s *Scalar) SubMaskedScalar(t *Scalar, bit byte) *Scalar {
	var m fe
	mask := -uint64(bit & 1)
	for i := range m {
		m[i] = t.v[i] & mask
	}
	felSub(&s.v, &s.v, &m)
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

// BaseMul returns s·G in constant time (signed 5-bit windows over a
// precomputed table, see basemul.go; checked against nistec's
// ScalarBaseMult).
func BaseMul(s *Scalar) *Point { return baseMul(s) }

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
