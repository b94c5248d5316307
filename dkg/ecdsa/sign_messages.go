package ecdsa

import (
	"fmt"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/rvole"
)

// PresignRound1 is sent by From to To in the first presigning round: the
// commitment to R_From and the RVOLE receiver message of the pair To → From.
type PresignRound1 struct {
	SessionID [32]byte
	From, To  int
	// Binding is the sender's view of the session context (key, session
	// id, signer set) and of the pairwise setup it uses with To (its
	// KeyShare.PairID). The receiver compares it with its own view before
	// any check that could blame or ban the sender: a mismatch aborts
	// without blame (ErrContext), since a relay or a pair setup that
	// completed on one side only can cause it.
	Binding [32]byte
	Commit  [32]byte
	RVOLE   [rvole.Msg1Size]byte
}

// PresignRound2 is sent by From to To in the second presigning round.
type PresignRound2 struct {
	SessionID [32]byte
	From, To  int
	Binding   [32]byte              // as in PresignRound1
	Echo      [32]byte              // digest of all round-1 commitments
	R         [p384.PointSize]byte  // R_From, opening the commitment
	Salt      [32]byte              // commitment salt
	PK        [p384.PointSize]byte  // pk_From = sk_From·G
	GammaU    [p384.PointSize]byte  // c^u·G
	GammaV    [p384.PointSize]byte  // c^v·G
	Psi       [p384.ScalarSize]byte // φ_From − χ
	RVOLE     [rvole.Msg2Size]byte  // RVOLE sender message of From → To
}

// SignShare is a signer's online message to the combiner.
type SignShare struct {
	SessionID [32]byte
	From      int
	Signers   [Threshold]int
	R         [p384.PointSize]byte
	W         [p384.ScalarSize]byte
	U         [p384.ScalarSize]byte
}

// Confidential reports whether the transport must encrypt the message.
func (*PresignRound1) Confidential() bool { return true }

// Confidential reports whether the transport must encrypt the message.
func (*PresignRound2) Confidential() bool { return true }

// Confidential reports whether the transport must encrypt the message.
func (*SignShare) Confidential() bool { return true }

const (
	pre1Size  = 2 + 32 + 2 + 32 + 32 + rvole.Msg1Size
	pre2Size  = 2 + 32 + 2 + 32 + 32 + p384.PointSize + 32 + 3*p384.PointSize + p384.ScalarSize + rvole.Msg2Size
	shareSize = 2 + 32 + 1 + Threshold + p384.PointSize + 2*p384.ScalarSize
)

// MarshalBinary encodes the message.
func (m *PresignRound1) MarshalBinary() ([]byte, error) {
	w := newWriter(tagPre1, pre1Size)
	w.put(m.SessionID[:])
	w.u8(m.From)
	w.u8(m.To)
	w.put(m.Binding[:])
	w.put(m.Commit[:])
	w.put(m.RVOLE[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *PresignRound1) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagPre1, pre1Size)
	r.fixed(m.SessionID[:])
	m.From = r.party("from")
	m.To = r.party("to")
	r.fixed(m.Binding[:])
	r.fixed(m.Commit[:])
	r.fixed(m.RVOLE[:])
	if err := r.done(); err != nil {
		return err
	}
	if m.From == m.To {
		return fmt.Errorf("%w: message to self", ErrDecode)
	}
	return nil
}

// MarshalBinary encodes the message.
func (m *PresignRound2) MarshalBinary() ([]byte, error) {
	w := newWriter(tagPre2, pre2Size)
	w.put(m.SessionID[:])
	w.u8(m.From)
	w.u8(m.To)
	w.put(m.Binding[:])
	w.put(m.Echo[:])
	w.put(m.R[:])
	w.put(m.Salt[:])
	w.put(m.PK[:])
	w.put(m.GammaU[:])
	w.put(m.GammaV[:])
	w.put(m.Psi[:])
	w.put(m.RVOLE[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly. The RVOLE payload's scalars
// are range-checked when it is processed.
func (m *PresignRound2) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagPre2, pre2Size)
	r.fixed(m.SessionID[:])
	m.From = r.party("from")
	m.To = r.party("to")
	r.fixed(m.Binding[:])
	r.fixed(m.Echo[:])
	r.point(&m.R, "R")
	r.fixed(m.Salt[:])
	r.point(&m.PK, "pk")
	r.point(&m.GammaU, "Γu")
	r.point(&m.GammaV, "Γv")
	r.scalar(&m.Psi, "ψ")
	r.fixed(m.RVOLE[:])
	if err := r.done(); err != nil {
		return err
	}
	if m.From == m.To {
		return fmt.Errorf("%w: message to self", ErrDecode)
	}
	return nil
}

// MarshalBinary encodes the message.
func (m *SignShare) MarshalBinary() ([]byte, error) {
	w := newWriter(tagShare, shareSize)
	w.put(m.SessionID[:])
	w.u8(m.From)
	for _, s := range m.Signers {
		w.u8(s)
	}
	w.put(m.R[:])
	w.put(m.W[:])
	w.put(m.U[:])
	return w.bytes(), nil
}

// UnmarshalBinary decodes the message strictly.
func (m *SignShare) UnmarshalBinary(b []byte) error {
	r := newReader(b, tagShare, shareSize)
	r.fixed(m.SessionID[:])
	m.From = r.party("from")
	for k := range m.Signers {
		m.Signers[k] = r.party("signer")
	}
	r.point(&m.R, "R")
	r.scalar(&m.W, "w")
	r.scalar(&m.U, "u")
	if err := r.done(); err != nil {
		return err
	}
	if err := validSet(m.Signers[:]); err != nil {
		return fmt.Errorf("%w: %v", ErrDecode, err)
	}
	member := false
	for _, s := range m.Signers {
		member = member || s == m.From
	}
	if !member {
		return fmt.Errorf("%w: sender not in signer set", ErrDecode)
	}
	return nil
}
