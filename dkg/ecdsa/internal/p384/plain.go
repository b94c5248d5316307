package p384

// Plain is a scalar mod n kept in plain (not Montgomery) form. It exists for
// the hot loops of the vector OLE, whose values mostly come from byte
// strings (hash outputs, peer messages) and go back to byte strings: with
// Plain, decoding and encoding are a load/store plus a range check or a
// masked reduction, and a product with a Scalar (held as s·R) is a single
// Montgomery multiplication whose result, s·p, is again plain. All
// operations are constant time for the same reasons as the Scalar field
// (see field.go). The zero value is 0.
type Plain struct {
	v fe
}

// SetBytes sets p to the canonical 48-byte big-endian value b, rejecting
// other lengths (ErrScalarLength) and values ≥ n (ErrScalarRange); p is left
// unchanged on error.
func (p *Plain) SetBytes(b []byte) error {
	if len(b) != ScalarSize {
		return ErrScalarLength
	}
	x := felLoad((*[ScalarSize]byte)(b))
	_, borrow := felSubN(&x)
	felSelect(&p.v, &x, &p.v, -borrow)
	clear(x[:])
	if borrow != 1 {
		return ErrScalarRange
	}
	return nil
}

// SetReducedBytes sets p to the 48-byte big-endian value b reduced mod n
// (for hash output only; see Scalar.SetReducedBytes).
func (p *Plain) SetReducedBytes(b *[ScalarSize]byte) *Plain {
	felLoadReduced(&p.v, b)
	return p
}

// PutBytes writes the canonical 48-byte encoding of p into dst[:48].
func (p *Plain) PutBytes(dst []byte) { felStore(dst[:ScalarSize], &p.v) }

// SetScalar sets p to the value of s.
func (p *Plain) SetScalar(s *Scalar) *Plain {
	one := feOne()
	felMontMul(&p.v, &s.v, &one)
	return p
}

// Scalar sets s to the value of p and returns s.
func (p *Plain) Scalar(s *Scalar) *Scalar {
	r2 := feR2()
	felMontMul(&s.v, &p.v, &r2)
	return s
}

// Add sets p = a + b mod n.
func (p *Plain) Add(a, b *Plain) *Plain {
	felAdd(&p.v, &a.v, &b.v)
	return p
}

// Sub sets p = a − b mod n.
func (p *Plain) Sub(a, b *Plain) *Plain {
	felSub(&p.v, &a.v, &b.v)
	return p
}

// MulScalar sets p = s·a mod n.
func (p *Plain) MulScalar(s *Scalar, a *Plain) *Plain {
	felMontMul(&p.v, &s.v, &a.v)
	return p
}

// AddMasked sets p = p + bit·t for bit ∈ {0, 1} in constant time.
func (p *Plain) AddMasked(t *Plain, bit byte) *Plain {
	var m fe
	mask := -uint64(bit & 1)
	for i := range m {
		m[i] = t.v[i] & mask
	}
	felAdd(&p.v, &p.v, &m)
	clear(m[:])
	return p
}

// SubMasked sets p = p − bit·t for bit ∈ {0, 1} in constant time.
func (p *Plain) SubMasked(t *Plain, bit byte) *Plain {
	var m fe
	mask := -uint64(bit & 1)
	for i := range m {
		m[i] = t.v[i] & mask
	}
	felSub(&p.v, &p.v, &m)
	clear(m[:])
	return p
}

// Zeroize overwrites p with zero.
func (p *Plain) Zeroize() { clear(p.v[:]) }
