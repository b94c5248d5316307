// Package baseot implements a batch of 256 verified "Simplest" oblivious
// transfers (the VSOT of Doerner–Kondi–Lee–shelat 2018, Protocol 7) over
// P-384 with filippo.io/nistec, used once per ordered pair of parties to set
// up OT extension.
//
// Roles follow OT terminology: the Sender ends with two random 32-byte seeds
// (k0_i, k1_i) per OT, the Receiver with a choice bit Δ_i and k_{Δ_i,i}. The
// flow is five messages: Sender → Receiver (B and a proof of knowledge of b),
// Receiver → Sender (A_i), Sender → Receiver (ξ_i), Receiver → Sender (ρ'_i),
// Sender → Receiver (openings). Every message has a fixed length and every
// verification failure is terminal: a State whose check failed refuses
// further use, and its OT material must be discarded.
package baseot

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/schnorr"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// Count is the number of OTs in a batch (the OT-extension width λ_c).
const Count = 256

// SeedSize is the length of each OT output seed.
const SeedSize = 32

// Message lengths.
const (
	Msg1Size = p384.PointSize + schnorr.Size // B, proof
	Msg2Size = Count * p384.PointSize        // A_i
	Msg3Size = Count * SeedSize              // ξ_i
	Msg4Size = Count * SeedSize              // ρ'_i
	Msg5Size = Count * 2 * SeedSize          // H'(ρ0_i), H'(ρ1_i)
)

// Errors.
var (
	ErrLength   = errors.New("baseot: message has wrong length")
	ErrProof    = errors.New("baseot: proof of knowledge does not verify")
	ErrPoint    = errors.New("baseot: invalid point")
	ErrCheck    = errors.New("baseot: verification failed")
	ErrState    = errors.New("baseot: called out of order or after a failure")
	ErrInternal = errors.New("baseot: internal error")
)

// SenderOutput holds the sender's seeds.
type SenderOutput struct {
	K0, K1 [Count][SeedSize]byte
}

// Zeroize wipes the seeds.
func (o *SenderOutput) Zeroize() { clear(o.K0[:]); clear(o.K1[:]) }

// ReceiverOutput holds the receiver's choice bits (bit i of Delta is
// Delta[i/8]>>(i%8)&1) and the chosen seeds.
type ReceiverOutput struct {
	Delta [Count / 8]byte
	K     [Count][SeedSize]byte
}

// Zeroize wipes the output.
func (o *ReceiverOutput) Zeroize() { clear(o.Delta[:]); clear(o.K[:]) }

// Bit returns choice bit i.
func (o *ReceiverOutput) Bit(i int) byte { return (o.Delta[i/8] >> (i % 8)) & 1 }

func rho(ctx *transcript.Context, i int, p *p384.Point) [SeedSize]byte {
	return transcript.New("vsot/rho").Context(ctx).Uint32(uint32(i)).Point(p).Sum32()
}

func hprime(ctx *transcript.Context, i int, x []byte) [SeedSize]byte {
	return transcript.New("vsot/hprime").Context(ctx).Uint32(uint32(i)).Bytes(x).Sum32()
}

func hh(ctx *transcript.Context, i int, x []byte) [SeedSize]byte {
	h := hprime(ctx, i, x)
	return hprime(ctx, i, h[:])
}

// Sender is the OT sender's state.
type Sender struct {
	ctx  transcript.Context
	b    *p384.Scalar
	B    *p384.Point
	out  *SenderOutput
	step int
}

// NewSender starts a batch; ctx must bind the key/session, the sender and the
// receiver. It returns the first message.
func NewSender(rand io.Reader, ctx transcript.Context) (*Sender, []byte, error) {
	b, err := p384.NewScalar().RandomNonZero(rand)
	if err != nil {
		return nil, nil, fmt.Errorf("baseot: sampling b: %w", err)
	}
	B := p384.BaseMul(b)
	proof, err := schnorr.Prove(rand, "vsot", &ctx, b, B)
	if err != nil {
		return nil, nil, fmt.Errorf("baseot: proving b: %w", err)
	}
	msg := make([]byte, 0, Msg1Size)
	msg = append(msg, B.Bytes()...)
	msg = append(msg, proof...)
	return &Sender{ctx: ctx, b: b, B: B, out: new(SenderOutput), step: 1}, msg, nil
}

// Round2 consumes the receiver's points and returns the challenges ξ_i.
func (s *Sender) Round2(msg2 []byte) ([]byte, error) {
	if s.step != 1 {
		return nil, ErrState
	}
	s.step = -1
	if len(msg2) != Msg2Size {
		return nil, ErrLength
	}
	bB := p384.Mul(s.B, s.b)
	negbB := p384.NewIdentity().Negate(bB)
	xi := make([]byte, Msg3Size)
	for i := 0; i < Count; i++ {
		A, err := p384.ParsePoint(msg2[i*p384.PointSize : (i+1)*p384.PointSize])
		if err != nil {
			return nil, fmt.Errorf("%w: A_%d: %v", ErrPoint, i, err)
		}
		bA := p384.Mul(A, s.b)
		s.out.K0[i] = rho(&s.ctx, i, bA)
		s.out.K1[i] = rho(&s.ctx, i, p384.Add(bA, negbB))
		h0 := hh(&s.ctx, i, s.out.K0[i][:])
		h1 := hh(&s.ctx, i, s.out.K1[i][:])
		subtle.XORBytes(xi[i*SeedSize:(i+1)*SeedSize], h0[:], h1[:])
	}
	s.b.Zeroize()
	s.step = 2
	return xi, nil
}

// Round4 checks the receiver's responses ρ'_i and returns the openings.
func (s *Sender) Round4(msg4 []byte) ([]byte, error) {
	if s.step != 2 {
		return nil, ErrState
	}
	s.step = -1
	if len(msg4) != Msg4Size {
		return nil, ErrLength
	}
	ok := 1
	open := make([]byte, Msg5Size)
	for i := 0; i < Count; i++ {
		h0 := hprime(&s.ctx, i, s.out.K0[i][:])
		h1 := hprime(&s.ctx, i, s.out.K1[i][:])
		copy(open[i*2*SeedSize:], h0[:])
		copy(open[i*2*SeedSize+SeedSize:], h1[:])
		hh0 := hprime(&s.ctx, i, h0[:])
		ok &= subtle.ConstantTimeCompare(hh0[:], msg4[i*SeedSize:(i+1)*SeedSize])
	}
	if ok != 1 {
		s.out.Zeroize()
		return nil, ErrCheck
	}
	s.step = 3
	return open, nil
}

// Output returns the seeds after Round4 succeeded.
func (s *Sender) Output() (*SenderOutput, error) {
	if s.step != 3 {
		return nil, ErrState
	}
	s.step = -1
	return s.out, nil
}

// Receiver is the OT receiver's state.
type Receiver struct {
	ctx  transcript.Context
	out  *ReceiverOutput
	xi   []byte
	step int
}

// NewReceiver verifies the sender's first message, samples the choice bits
// and returns the second message.
func NewReceiver(rand io.Reader, ctx transcript.Context, msg1 []byte) (*Receiver, []byte, error) {
	if len(msg1) != Msg1Size {
		return nil, nil, ErrLength
	}
	B, err := p384.ParsePoint(msg1[:p384.PointSize])
	if err != nil {
		return nil, nil, fmt.Errorf("%w: B: %v", ErrPoint, err)
	}
	if err := schnorr.Verify("vsot", &ctx, B, msg1[p384.PointSize:]); err != nil {
		return nil, nil, ErrProof
	}
	r := &Receiver{ctx: ctx, out: new(ReceiverOutput), step: 1}
	if _, err := io.ReadFull(rand, r.out.Delta[:]); err != nil {
		return nil, nil, fmt.Errorf("baseot: sampling choice bits: %w", err)
	}
	msg2 := make([]byte, 0, Msg2Size)
	a := p384.NewScalar()
	for i := 0; i < Count; i++ {
		if _, err := a.RandomNonZero(rand); err != nil {
			return nil, nil, fmt.Errorf("baseot: sampling a_%d: %w", i, err)
		}
		aG := p384.BaseMul(a)
		A := p384.NewIdentity().Select(p384.Add(aG, B), aG, int(r.out.Bit(i)))
		if p384.IsIdentity(A) {
			return nil, nil, ErrInternal
		}
		msg2 = append(msg2, A.Bytes()...)
		r.out.K[i] = rho(&r.ctx, i, p384.Mul(B, a))
	}
	a.Zeroize()
	return r, msg2, nil
}

// Round3 consumes the challenges ξ_i and returns the responses ρ'_i.
func (r *Receiver) Round3(msg3 []byte) ([]byte, error) {
	if r.step != 1 {
		return nil, ErrState
	}
	r.step = -1
	if len(msg3) != Msg3Size {
		return nil, ErrLength
	}
	r.xi = append([]byte(nil), msg3...)
	out := make([]byte, Msg4Size)
	var masked [SeedSize]byte
	for i := 0; i < Count; i++ {
		h := hh(&r.ctx, i, r.out.K[i][:])
		mask := -r.out.Bit(i)
		for k := range masked {
			masked[k] = msg3[i*SeedSize+k] & mask
		}
		subtle.XORBytes(out[i*SeedSize:(i+1)*SeedSize], h[:], masked[:])
	}
	r.step = 2
	return out, nil
}

// Round5 verifies the sender's openings and returns the receiver's output.
func (r *Receiver) Round5(msg5 []byte) (*ReceiverOutput, error) {
	if r.step != 2 {
		return nil, ErrState
	}
	r.step = -1
	if len(msg5) != Msg5Size {
		return nil, ErrLength
	}
	ok := 1
	var sel [SeedSize]byte
	for i := 0; i < Count; i++ {
		o0 := msg5[i*2*SeedSize : i*2*SeedSize+SeedSize]
		o1 := msg5[i*2*SeedSize+SeedSize : (i+1)*2*SeedSize]
		copy(sel[:], o0)
		subtle.ConstantTimeCopy(int(r.out.Bit(i)), sel[:], o1)
		h := hprime(&r.ctx, i, r.out.K[i][:])
		ok &= subtle.ConstantTimeCompare(h[:], sel[:])
		h0 := hprime(&r.ctx, i, o0)
		h1 := hprime(&r.ctx, i, o1)
		var x [SeedSize]byte
		subtle.XORBytes(x[:], h0[:], h1[:])
		ok &= subtle.ConstantTimeCompare(x[:], r.xi[i*SeedSize:(i+1)*SeedSize])
	}
	if ok != 1 {
		r.out.Zeroize()
		return nil, ErrCheck
	}
	return r.out, nil
}
