package ecdsa

import (
	"fmt"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/baseot"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/schnorr"
)

// DKGRound1Broadcast commits to the sender's Feldman coefficients and proof.
type DKGRound1Broadcast struct {
	From   int
	Commit [32]byte
}

// DKGRound1Direct carries the zero-seed commitment and the first base-OT
// message (sender From is the base-OT sender of the pair To → From).
type DKGRound1Direct struct {
	From, To   int
	SeedCommit [32]byte
	OT         [baseot.Msg1Size]byte
}

// DKGRound2Broadcast opens the round-1 commitment: the Feldman coefficient
// commitments A_0..A_2 and a proof of knowledge of a_0.
type DKGRound2Broadcast struct {
	From   int
	Coeffs [Threshold][p384.PointSize]byte
	Proof  [schnorr.Size]byte
}

// DKGRound2Direct carries the confidential share f_From(To), the opened
// zero-seed contribution and the second base-OT message of the pair
// From → To.
type DKGRound2Direct struct {
	From, To int
	Share    [p384.ScalarSize]byte
	Seed     [32]byte
	OT       [baseot.Msg2Size]byte
}

// DKGRound3Broadcast carries the echo digest and a proof of knowledge of the
// sender's final share x_From for X_From.
type DKGRound3Broadcast struct {
	From  int
	Echo  [32]byte
	Proof [schnorr.Size]byte
}

// DKGOTDirect carries base-OT messages 3, 4 and 5 (DKG rounds 3, 4 and 5).
type DKGOTDirect struct {
	Round    int // 3, 4 or 5
	From, To int
	OT       []byte
}

// Confidential reports whether the transport must encrypt the message.
func (*DKGRound1Broadcast) Confidential() bool { return false }

// Confidential reports whether the transport must encrypt the message.
func (*DKGRound1Direct) Confidential() bool { return true }

// Confidential reports whether the transport must encrypt the message.
func (*DKGRound2Broadcast) Confidential() bool { return false }

// Confidential reports whether the transport must encrypt the message (it
// carries a secret share).
func (*DKGRound2Direct) Confidential() bool { return true }

// Confidential reports whether the transport must encrypt the message.
func (*DKGRound3Broadcast) Confidential() bool { return false }

// Confidential reports whether the transport must encrypt the message.
func (*DKGOTDirect) Confidential() bool { return true }

const (
	dkg1BSize = 2 + 1 + 32
	dkg1DSize = 2 + 2 + 32 + baseot.Msg1Size
	dkg2BSize = 2 + 1 + Threshold*p384.PointSize + schnorr.Size
	dkg2DSize = 2 + 2 + p384.ScalarSize + 32 + baseot.Msg2Size
	dkg3BSize = 2 + 1 + 32 + schnorr.Size
)

func otSize(round int) int {
	switch round {
	case 3:
		return baseot.Msg3Size
	case 4:
		return baseot.Msg4Size
	case 5:
		return baseot.Msg5Size
	}
	return -1
}

// MarshalBinary encodes the message.
func (m *DKGRound1Broadcast) MarshalBinary() ([]byte, error) {
	w := newWriter(tagDKG1B, dkg1BSize)
	w.u8(m.From)
	w.put(m.Commit[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *DKGRound1Broadcast) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagDKG1B, dkg1BSize)
	m.From = r.party("from")
	r.fixed(m.Commit[:])
	return r.done()
}

// MarshalBinary encodes the message.
func (m *DKGRound1Direct) MarshalBinary() ([]byte, error) {
	w := newWriter(tagDKG1D, dkg1DSize)
	w.u8(m.From)
	w.u8(m.To)
	w.put(m.SeedCommit[:])
	w.put(m.OT[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *DKGRound1Direct) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagDKG1D, dkg1DSize)
	m.From = r.party("from")
	m.To = r.party("to")
	r.fixed(m.SeedCommit[:])
	r.fixed(m.OT[:])
	if err := r.done(); err != nil {
		return err
	}
	if m.From == m.To {
		return fmt.Errorf("%w: message to self", ErrDecode)
	}
	if _, err := p384.ParsePoint(m.OT[:p384.PointSize]); err != nil {
		return fmt.Errorf("%w: base-OT point: %v", ErrDecode, err)
	}
	return nil
}

// MarshalBinary encodes the message.
func (m *DKGRound2Broadcast) MarshalBinary() ([]byte, error) {
	w := newWriter(tagDKG2B, dkg2BSize)
	w.u8(m.From)
	for k := range m.Coeffs {
		w.put(m.Coeffs[k][:])
	}
	w.put(m.Proof[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *DKGRound2Broadcast) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagDKG2B, dkg2BSize)
	m.From = r.party("from")
	for k := range m.Coeffs {
		r.point(&m.Coeffs[k], fmt.Sprintf("A_%d", k))
	}
	r.fixed(m.Proof[:])
	return r.done()
}

// MarshalBinary encodes the message.
func (m *DKGRound2Direct) MarshalBinary() ([]byte, error) {
	w := newWriter(tagDKG2D, dkg2DSize)
	w.u8(m.From)
	w.u8(m.To)
	w.put(m.Share[:])
	w.put(m.Seed[:])
	w.put(m.OT[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *DKGRound2Direct) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagDKG2D, dkg2DSize)
	m.From = r.party("from")
	m.To = r.party("to")
	r.scalar(&m.Share, "share")
	r.fixed(m.Seed[:])
	r.fixed(m.OT[:])
	if err := r.done(); err != nil {
		return err
	}
	if m.From == m.To {
		return fmt.Errorf("%w: message to self", ErrDecode)
	}
	return nil
}

// MarshalBinary encodes the message.
func (m *DKGRound3Broadcast) MarshalBinary() ([]byte, error) {
	w := newWriter(tagDKG3B, dkg3BSize)
	w.u8(m.From)
	w.put(m.Echo[:])
	w.put(m.Proof[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *DKGRound3Broadcast) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagDKG3B, dkg3BSize)
	m.From = r.party("from")
	r.fixed(m.Echo[:])
	r.fixed(m.Proof[:])
	return r.done()
}

// MarshalBinary encodes the message.
func (m *DKGOTDirect) MarshalBinary() ([]byte, error) {
	n := otSize(m.Round)
	if n < 0 || len(m.OT) != n {
		return nil, fmt.Errorf("%w: bad base-OT round or length", ErrDecode)
	}
	w := newWriter(tagDKGOT, 2+3+n)
	w.u8(m.Round)
	w.u8(m.From)
	w.u8(m.To)
	w.put(m.OT)
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *DKGOTDirect) UnmarshalBinary(b []byte) error {
	if len(b) < 3 {
		return fmt.Errorf("%w: truncated", ErrDecode)
	}
	n := otSize(int(b[2]))
	if n < 0 {
		return fmt.Errorf("%w: bad base-OT round %d", ErrDecode, b[2])
	}
	r := newReader(b, tagDKGOT, 2+3+n)
	m.Round = int(r.take(1)[0])
	m.From = r.party("from")
	m.To = r.party("to")
	m.OT = append([]byte(nil), r.take(n)...)
	if err := r.done(); err != nil {
		return err
	}
	if m.From == m.To {
		return fmt.Errorf("%w: message to self", ErrDecode)
	}
	return nil
}

// Routing accessors (nil-safe) used by collectBroadcast and collectDirect.

func (m *DKGRound1Broadcast) sender() int   { return fromOf(m != nil, func() int { return m.From }) }
func (m *DKGRound1Broadcast) receiver() int { return 0 }
func (m *DKGRound1Direct) sender() int      { return fromOf(m != nil, func() int { return m.From }) }
func (m *DKGRound1Direct) receiver() int    { return fromOf(m != nil, func() int { return m.To }) }
func (m *DKGRound2Broadcast) sender() int   { return fromOf(m != nil, func() int { return m.From }) }
func (m *DKGRound2Broadcast) receiver() int { return 0 }
func (m *DKGRound2Direct) sender() int      { return fromOf(m != nil, func() int { return m.From }) }
func (m *DKGRound2Direct) receiver() int    { return fromOf(m != nil, func() int { return m.To }) }
func (m *DKGRound3Broadcast) sender() int   { return fromOf(m != nil, func() int { return m.From }) }
func (m *DKGRound3Broadcast) receiver() int { return 0 }
func (m *DKGOTDirect) sender() int          { return fromOf(m != nil, func() int { return m.From }) }
func (m *DKGOTDirect) receiver() int        { return fromOf(m != nil, func() int { return m.To }) }

// fromOf returns f() when ok, else 0 (an invalid party index).
func fromOf(ok bool, f func() int) int {
	if !ok {
		return 0
	}
	return f()
}
