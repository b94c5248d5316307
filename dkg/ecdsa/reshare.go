package ecdsa

import (
	"fmt"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// Re-sharing hooks: a replacement node at index k receives its Shamir share
// x_k = p(k) from Threshold live helpers without the public key (or any
// other party's share) changing. Helper h sends, confidentially,
//
//	c_h = λ_h(k)·x_h + ζ_h  and  Z_h = ζ_h·G,
//
// where λ_h(k) is the Lagrange coefficient of h at k over the helper set and
// the ζ_h are a zero sharing derived from the helpers' pairwise seeds, so the
// new node learns x_k = Σ c_h and nothing about any x_h. The new node checks
// each c_h·G = λ_h(k)·X_h + Z_h (blaming h), Σ Z_h = 0 and x_k·G = X_k.
// After that the new node runs a PairSetup with each other party and both
// sides InstallPair; then the ten confirmation signatures are repeated and
// the new share is confirmed with ConfirmKey.

// ReshareContribution is helper From's message to the replacement node To.
type ReshareContribution struct {
	SessionID [32]byte
	From, To  int
	Helpers   [Threshold]int
	KeyID     [32]byte
	PK        [p384.PointSize]byte
	Shares    [Parties][p384.PointSize]byte // X_1..X_Parties
	C         [p384.ScalarSize]byte
	Z         [p384.PointSize]byte
}

// Confidential reports whether the transport must encrypt the message (it
// carries a masked share).
func (*ReshareContribution) Confidential() bool { return true }

const reshareSize = 2 + 32 + 2 + Threshold + 32 + p384.PointSize + Parties*p384.PointSize + p384.ScalarSize + p384.PointSize

// lagrangeAt returns λ_h for the set S evaluated at x: Π_{m≠h} (x−m)/(h−m).
func lagrangeAt(set []int, h, x int) *p384.Scalar {
	num := p384.ScalarFromUint64(1)
	den := p384.ScalarFromUint64(1)
	X := p384.ScalarFromUint64(uint64(x))
	H := p384.ScalarFromUint64(uint64(h))
	for _, m := range set {
		if m == h {
			continue
		}
		M := p384.ScalarFromUint64(uint64(m))
		num.Mul(num, p384.NewScalar().Sub(X, M))
		den.Mul(den, p384.NewScalar().Sub(H, M))
	}
	return num.Mul(num, p384.NewScalar().Inverse(den))
}

func reshareZero(k *KeyShare, sid [32]byte, target int, helpers []int) (*p384.Scalar, error) {
	z := p384.NewScalar()
	for _, m := range helpers {
		if m == k.self {
			continue
		}
		pm := k.pair(m)
		if pm == nil {
			return nil, fmt.Errorf("%w: no pairwise seed with helper %d", ErrConfig, m)
		}
		t := transcript.New("reshare/zero-share").Bytes(pm.zero[:]).Bytes(k.keyID[:]).Bytes(sid[:]).Uint32(uint32(target))
		for _, h := range helpers {
			t.Uint32(uint32(h))
		}
		h := t.SumScalar()
		if k.self < m {
			z.Add(z, h)
		} else {
			z.Sub(z, h)
		}
		h.Zeroize()
	}
	return z, nil
}

// ReshareContribution computes this helper's contribution to the share of
// the replacement node at index target, for the sorted helper set helpers
// (Threshold parties, including this one, not including target).
func (k *KeyShare) ReshareContribution(sid [32]byte, target int, helpers []int) (*ReshareContribution, error) {
	if err := validSet(helpers); err != nil {
		return nil, err
	}
	if target < 1 || target > Parties {
		return nil, fmt.Errorf("%w: target %d", ErrConfig, target)
	}
	member := false
	for _, h := range helpers {
		if h == target {
			return nil, fmt.Errorf("%w: target is a helper", ErrConfig)
		}
		member = member || h == k.self
	}
	if !member {
		return nil, fmt.Errorf("%w: party %d is not a helper", ErrConfig, k.self)
	}
	if k.zeroized.Load() {
		return nil, fmt.Errorf("%w: key share zeroized", ErrState)
	}
	z, err := reshareZero(k, sid, target, helpers)
	if err != nil {
		return nil, err
	}
	defer z.Zeroize()
	c := p384.NewScalar().Mul(lagrangeAt(helpers, k.self, target), k.x)
	c.Add(c, z)
	defer c.Zeroize()
	out := &ReshareContribution{SessionID: sid, From: k.self, To: target, KeyID: k.keyID}
	copy(out.Helpers[:], helpers)
	copy(out.PK[:], k.pk.Bytes())
	for j := 1; j <= Parties; j++ {
		copy(out.Shares[j-1][:], k.shares[j].Bytes())
	}
	c.PutBytes(out.C[:])
	Z := p384.BaseMul(z)
	if p384.IsIdentity(Z) {
		return nil, fmt.Errorf("%w: degenerate zero share", ErrState)
	}
	copy(out.Z[:], Z.Bytes())
	return out, nil
}

// NewReplacementShare assembles the share of the replacement node self from
// the Threshold helpers' contributions. The returned share has no pairwise
// setups yet (see PairSetup, InstallPair) and is unconfirmed.
func NewReplacementShare(self int, contribs []*ReshareContribution) (*KeyShare, error) {
	if self < 1 || self > Parties || len(contribs) != Threshold {
		return nil, fmt.Errorf("%w: need %d contributions", ErrConfig, Threshold)
	}
	first := contribs[0]
	if first == nil {
		return nil, fmt.Errorf("%w: nil contribution", ErrConfig)
	}
	helpers := first.Helpers[:]
	if err := validSet(helpers); err != nil {
		return nil, err
	}
	var seen [Parties + 1]bool
	for _, c := range contribs {
		if c == nil {
			return nil, fmt.Errorf("%w: nil contribution", ErrConfig)
		}
		if c.To != self || c.SessionID != first.SessionID || c.Helpers != first.Helpers {
			return nil, abort(c.From, "contribution for another target, session or helper set", ErrDecode)
		}
		if c.KeyID != first.KeyID || c.PK != first.PK || c.Shares != first.Shares {
			return nil, abort(0, "helpers disagree on the public key data", nil)
		}
		in := false
		for _, h := range helpers {
			in = in || h == c.From
		}
		if !in || seen[c.From] {
			return nil, abort(c.From, "unexpected or duplicate helper", ErrDecode)
		}
		seen[c.From] = true
	}
	pk, err := p384.ParsePoint(first.PK[:])
	if err != nil {
		return nil, abort(0, "invalid public key", err)
	}
	var X [Parties + 1]*p384.Point
	for j := 1; j <= Parties; j++ {
		if X[j], err = p384.ParsePoint(first.Shares[j-1][:]); err != nil {
			return nil, abort(0, "invalid public share", err)
		}
	}
	for _, set := range Subsets() {
		acc := p384.NewIdentity()
		for _, m := range set {
			acc = p384.Add(acc, p384.Mul(X[m], lagrange(set, m)))
		}
		if !p384.Equal(acc, pk) {
			return nil, abort(0, "public shares do not interpolate to the public key", nil)
		}
	}
	x := p384.NewScalar()
	zsum := p384.NewIdentity()
	for _, c := range contribs {
		ch, err := p384.NewScalar().SetBytes(c.C[:])
		if err != nil {
			x.Zeroize()
			return nil, abort(c.From, "invalid contribution scalar", err)
		}
		Z, err := p384.ParsePoint(c.Z[:])
		if err != nil {
			x.Zeroize()
			return nil, abort(c.From, "invalid contribution point", err)
		}
		want := p384.Add(p384.Mul(X[c.From], lagrangeAt(helpers, c.From, self)), Z)
		if !p384.Equal(p384.BaseMul(ch), want) {
			x.Zeroize()
			return nil, abort(c.From, "contribution inconsistent with the helper's public share", nil)
		}
		x.Add(x, ch)
		ch.Zeroize()
		zsum = p384.Add(zsum, Z)
	}
	if !p384.IsIdentity(zsum) || !p384.Equal(p384.BaseMul(x), X[self]) {
		x.Zeroize()
		return nil, abort(0, "contributions do not sum to the share at this index", nil)
	}
	return &KeyShare{self: self, keyID: first.KeyID, x: x, pk: pk, shares: X}, nil
}

// MarshalBinary encodes the message.
func (m *ReshareContribution) MarshalBinary() ([]byte, error) {
	w := newWriter(tagReshare, reshareSize)
	w.put(m.SessionID[:])
	w.u8(m.From)
	w.u8(m.To)
	for _, h := range m.Helpers {
		w.u8(h)
	}
	w.put(m.KeyID[:])
	w.put(m.PK[:])
	for k := range m.Shares {
		w.put(m.Shares[k][:])
	}
	w.put(m.C[:])
	w.put(m.Z[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *ReshareContribution) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagReshare, reshareSize)
	r.fixed(m.SessionID[:])
	m.From = r.party("from")
	m.To = r.party("to")
	for k := range m.Helpers {
		m.Helpers[k] = r.party("helper")
	}
	r.fixed(m.KeyID[:])
	r.point(&m.PK, "pk")
	for k := range m.Shares {
		r.point(&m.Shares[k], "X")
	}
	r.scalar(&m.C, "c")
	r.point(&m.Z, "Z")
	if err := r.done(); err != nil {
		return err
	}
	if err := validSet(m.Helpers[:]); err != nil {
		return fmt.Errorf("%w: %v", ErrDecode, err)
	}
	from, to := false, false
	for _, h := range m.Helpers {
		from = from || h == m.From
		to = to || h == m.To
	}
	if !from || to {
		return fmt.Errorf("%w: sender must be a helper and target must not", ErrDecode)
	}
	return nil
}
