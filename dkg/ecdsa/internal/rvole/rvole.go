// Package rvole implements the random vector OLE of DKLs23 (Protocol 5.2,
// after DKLs19) with the gadget encoding that defeats selective failure, on
// top of the OT extension in package ote.
//
// The sender (Alice) inputs a vector a = (a_0, a_1); the receiver (Bob) gets
// a random χ = Σ_j β_j·g_j over 640 random choice bits β_j and the public
// gadget vector g. Alice ends with c_h and Bob with d_h such that
// c_h + d_h = a_h·χ. A sender that corrupts one OT row is caught by the μ
// check whenever Bob's bit for that row is 1 and otherwise changes nothing;
// since χ keeps ≥ 384+128 bits of entropy, a few learned bits do not bias it.
//
// Freshness: Bob's nonce goes into the pair session id that keys the OT
// extension PRG and challenges; Alice's nonce goes into the random-OT hash,
// θ and μ. A replayed session therefore never reproduces an earlier ã.
package rvole

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/ote"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/p384"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/shake4"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// Parameters.
const (
	L         = 2      // vector length (r_i, sk_i)
	width     = L + 1  // plus the check column η
	Xi        = ote.Xi // gadget length
	NonceSize = 32
	muSize    = 32
	// Msg1Size is the receiver's message length.
	Msg1Size = NonceSize + ote.MsgSize
	// Msg2Size is the sender's message length.
	Msg2Size = NonceSize + Xi*width*p384.ScalarSize + p384.ScalarSize + muSize
)

// Errors.
var (
	ErrLength = errors.New("rvole: message has wrong length")
	ErrScalar = errors.New("rvole: scalar out of range")
	ErrCheck  = errors.New("rvole: μ check failed (sender cheated); ban this pair")
	ErrState  = errors.New("rvole: receiver state already used")
)

// Gadget is the public gadget vector of one ordered pair.
type Gadget struct {
	g [Xi]*p384.Scalar
}

// NewGadget derives the gadget vector for the pair (sender → receiver) of
// the given key.
func NewGadget(keyID [32]byte, sender, receiver uint32) *Gadget {
	g := new(Gadget)
	for j := 0; j < Xi; j++ {
		t := transcript.New("rvole/gadget").Bytes(keyID[:]).Uint32(sender).Uint32(receiver).Uint32(uint32(j))
		g.g[j] = t.SumScalar()
	}
	return g
}

func pairSID(ctx *transcript.Context, nonceB []byte) [32]byte {
	return transcript.New("rvole/pair").Context(ctx).Bytes(nonceB).Sum32()
}

// rotPrefix is the transcript prefix shared by all random-OT hashes of one
// instance: purpose, pair session id and the sender's nonce, padded to a
// block boundary so that the four-way hash can start from its state.
func rotPrefix(sid *[32]byte, nonceA []byte) (*shake4.Prefix, error) {
	p, err := transcript.New("rvole/rot").Bytes(sid[:]).Bytes(nonceA).PadBlock().Prefix4()
	if err != nil {
		return nil, fmt.Errorf("rvole: random-OT prefix: %w", err)
	}
	return p, nil
}

// The random-OT hashes run four rows at a time.
const _ uint = -(Xi % 4)

// rotMsgSize is the per-row suffix of the random-OT transcript:
// Uint32(j) ‖ Bytes(row) = j ‖ len(row) ‖ row.
const rotMsgSize = 4 + 4 + ote.RowBytes

// rot4 derives the three random-OT scalars of the four rows j0..j0+3 from
// the row bits: out[k] is the transcript prefix ‖ Uint32(j0+k) ‖
// Bytes(rows[k]) squeezed to 3×48 bytes, each 48 reduced once. (The same
// value as transcript.New("rvole/rot")…PadBlock().Uint32(j).Bytes(row) read
// through crypto/sha3; the four hashes run side by side, see shake4.)
func rot4(prefix *shake4.Prefix, j0 int, rows *[4]*[ote.RowBytes]byte, out *[4][width]p384.Plain) {
	var msg [4][rotMsgSize]byte
	var buf [4][width * p384.ScalarSize]byte
	var ms, os [4][]byte
	for k := range msg {
		binary.BigEndian.PutUint32(msg[k][0:], uint32(j0+k))
		binary.BigEndian.PutUint32(msg[k][4:], ote.RowBytes)
		copy(msg[k][8:], rows[k][:])
		ms[k], os[k] = msg[k][:], buf[k][:]
	}
	prefix.Sum4(&ms, &os)
	for k := range out {
		for h := 0; h < width; h++ {
			out[k][h].SetReducedBytes((*[p384.ScalarSize]byte)(buf[k][h*p384.ScalarSize:]))
		}
	}
	clear(msg[:])
	clear(buf[:])
}

func thetas(sid *[32]byte, nonceA, atilde []byte) [L]*p384.Scalar {
	var th [L]*p384.Scalar
	base := transcript.New("rvole/theta").Bytes(sid[:]).Bytes(nonceA).BytesTree(atilde)
	for h := 0; h < L; h++ {
		th[h] = base.Clone().Uint32(uint32(h)).SumScalar()
	}
	return th
}

func muHash(sid *[32]byte, nonceA []byte, z []byte) []byte {
	return transcript.New("rvole/mu").Bytes(sid[:]).Bytes(nonceA).BytesTree(z).Sum(muSize)
}

// Receiver is Bob's single-use state for one RVOLE instance.
type Receiver struct {
	sid    [32]byte
	x      [ote.ColBytes]byte // β ‖ pad
	rows   *ote.Rows
	gadget *Gadget
	used   bool
}

// NewReceiver starts an instance. ctx binds key id, session id, sender
// (Alice) and receiver (Bob). It returns Bob's state, message and χ.
func NewReceiver(rand io.Reader, setup *ote.ReceiverSetup, g *Gadget, ctx transcript.Context) (*Receiver, []byte, *p384.Scalar, error) {
	msg := make([]byte, Msg1Size)
	r, chi, err := NewReceiverInto((*[Msg1Size]byte)(msg), rand, setup, g, ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	return r, msg, chi, nil
}

// NewReceiverInto is NewReceiver writing the message into msg.
func NewReceiverInto(msg *[Msg1Size]byte, rand io.Reader, setup *ote.ReceiverSetup, g *Gadget, ctx transcript.Context) (*Receiver, *p384.Scalar, error) {
	r := &Receiver{gadget: g}
	if _, err := io.ReadFull(rand, msg[:NonceSize]); err != nil {
		return nil, nil, fmt.Errorf("rvole: nonce: %w", err)
	}
	if _, err := io.ReadFull(rand, r.x[:]); err != nil {
		return nil, nil, fmt.Errorf("rvole: choice bits: %w", err)
	}
	r.sid = pairSID(&ctx, msg[:NonceSize])
	rows, err := ote.ExtendInto(msg[NonceSize:], setup, r.sid, &r.x)
	if err != nil {
		return nil, nil, err
	}
	r.rows = rows
	chi := p384.NewScalar()
	for j := 0; j < Xi; j++ {
		chi.AddMaskedScalar(g.g[j], r.bit(j))
	}
	return r, chi, nil
}

func (r *Receiver) bit(j int) byte { return (r.x[j/8] >> (j % 8)) & 1 }

// Zeroize wipes the receiver state.
func (r *Receiver) Zeroize() {
	clear(r.x[:])
	if r.rows != nil {
		clear(r.rows[:])
	}
	r.used = true
}

// Finish consumes Alice's message and returns Bob's shares d_0, d_1. On
// ErrCheck the sender cheated and the pair must be banned. The state is
// single-use and zeroized on return.
func (r *Receiver) Finish(msg []byte) ([L]*p384.Scalar, error) {
	var d [L]*p384.Scalar
	if r.used {
		return d, ErrState
	}
	defer r.Zeroize()
	if len(msg) != Msg2Size {
		return d, ErrLength
	}
	nonceA := msg[:NonceSize]
	at := msg[NonceSize : NonceSize+Xi*width*p384.ScalarSize]
	etaB := msg[NonceSize+Xi*width*p384.ScalarSize : Msg2Size-muSize]
	mu := msg[Msg2Size-muSize:]
	// Decode and range-check every ã and η' once, before any use.
	atP := make([]p384.Plain, Xi*width)
	for k := range atP {
		if err := atP[k].SetBytes(at[k*p384.ScalarSize : (k+1)*p384.ScalarSize]); err != nil {
			return d, fmt.Errorf("%w: ã[%d]", ErrScalar, k)
		}
	}
	var eta p384.Plain
	if err := eta.SetBytes(etaB); err != nil {
		return d, fmt.Errorf("%w: η'", ErrScalar)
	}
	th := thetas(&r.sid, nonceA, at)
	prefix, err := rotPrefix(&r.sid, nonceA)
	if err != nil {
		return d, err
	}
	var dacc [L]p384.Acc // Σ_j g_j·d̂_{j,h}, reduced once at the end
	z := make([]byte, Xi*p384.ScalarSize)
	var v4 [4][width]p384.Plain
	var zj, tmp p384.Plain
	for j0 := 0; j0 < Xi; j0 += 4 {
		rot4(prefix, j0, &[4]*[ote.RowBytes]byte{&r.rows[j0], &r.rows[j0+1], &r.rows[j0+2], &r.rows[j0+3]}, &v4)
		for k := range v4 {
			j, v := j0+k, &v4[k]
			bj := r.bit(j)
			for h := 0; h < width; h++ {
				v[h].AddMasked(&atP[j*width+h], bj) // d̂_{j,h}
			}
			zj.MulScalar(th[0], &v[0])
			tmp.MulScalar(th[1], &v[1])
			zj.Add(&zj, &tmp)
			zj.Add(&zj, &v[2])
			zj.SubMasked(&eta, bj)
			zj.PutBytes(z[j*p384.ScalarSize:])
			for h := 0; h < L; h++ {
				dacc[h].AddMul(r.gadget.g[j], &v[h])
			}
		}
	}
	var dp [L]p384.Plain
	for h := range dp {
		dacc[h].Reduce(&dp[h])
		dacc[h].Zeroize()
	}
	for k := range v4 {
		for h := range v4[k] {
			v4[k][h].Zeroize()
		}
	}
	zj.Zeroize()
	tmp.Zeroize()
	ok := subtle.ConstantTimeCompare(muHash(&r.sid, nonceA, z), mu) == 1
	clear(z)
	if !ok {
		for h := range dp {
			dp[h].Zeroize()
		}
		return d, ErrCheck
	}
	for h := range d {
		d[h] = dp[h].Scalar(p384.NewScalar())
		dp[h].Zeroize()
	}
	return d, nil
}

// Tamper lets tests act as a malicious sender: it is called with the
// computed ã (row-major, Xi×width scalars) before θ is derived, so a
// cheating sender stays self-consistent. It must be nil in production.
type Tamper func(at []byte)

// Send is Alice's step: given inputs a, Bob's message and the context, it
// returns Alice's shares c_0, c_1 and her message. On ote.ErrCheck Bob
// cheated and the pair must be banned.
func Send(rand io.Reader, setup *ote.SenderSetup, g *Gadget, ctx transcript.Context, a [L]*p384.Scalar, msg1 []byte) ([L]*p384.Scalar, []byte, error) {
	msg := make([]byte, Msg2Size)
	c, err := send((*[Msg2Size]byte)(msg), rand, setup, g, ctx, a, msg1, nil)
	if err != nil {
		return c, nil, err
	}
	return c, msg, nil
}

// SendInto is Send writing the message into msg (which holds garbage on
// error).
func SendInto(msg *[Msg2Size]byte, rand io.Reader, setup *ote.SenderSetup, g *Gadget, ctx transcript.Context, a [L]*p384.Scalar, msg1 []byte) ([L]*p384.Scalar, error) {
	return send(msg, rand, setup, g, ctx, a, msg1, nil)
}

// SendTampered is Send with a test hook; see Tamper.
func SendTampered(rand io.Reader, setup *ote.SenderSetup, g *Gadget, ctx transcript.Context, a [L]*p384.Scalar, msg1 []byte, tamper Tamper) ([L]*p384.Scalar, []byte, error) {
	msg := make([]byte, Msg2Size)
	c, err := send((*[Msg2Size]byte)(msg), rand, setup, g, ctx, a, msg1, tamper)
	if err != nil {
		return c, nil, err
	}
	return c, msg, nil
}

func send(msg *[Msg2Size]byte, rand io.Reader, setup *ote.SenderSetup, g *Gadget, ctx transcript.Context, a [L]*p384.Scalar, msg1 []byte, tamper Tamper) ([L]*p384.Scalar, error) {
	var c [L]*p384.Scalar
	if len(msg1) != Msg1Size {
		return c, ErrLength
	}
	sid := pairSID(&ctx, msg1[:NonceSize])
	Q, err := ote.Receive(setup, sid, msg1[NonceSize:])
	if err != nil {
		return c, err
	}
	defer clear(Q[:])
	nonceA := msg[:NonceSize]
	if _, err := io.ReadFull(rand, nonceA); err != nil {
		return c, fmt.Errorf("rvole: nonce: %w", err)
	}
	eta, err := p384.NewScalar().Random(rand)
	if err != nil {
		return c, err
	}
	defer eta.Zeroize()
	var in [width]p384.Plain
	in[0].SetScalar(a[0])
	in[1].SetScalar(a[1])
	in[2].SetScalar(eta)
	at := msg[NonceSize : NonceSize+Xi*width*p384.ScalarSize]
	v0 := make([][width]p384.Plain, Xi)
	var v1 [4][width]p384.Plain
	var qd [4][ote.RowBytes]byte
	var cacc [L]p384.Acc // Σ_j g_j·v0_{j,h}; c_h is its negation
	var tmp p384.Plain
	prefix, err := rotPrefix(&sid, nonceA)
	if err != nil {
		return c, err
	}
	for j0 := 0; j0 < Xi; j0 += 4 {
		for k := range qd {
			subtle.XORBytes(qd[k][:], Q[j0+k][:], setup.Delta[:])
		}
		rot4(prefix, j0, &[4]*[ote.RowBytes]byte{&Q[j0], &Q[j0+1], &Q[j0+2], &Q[j0+3]}, (*[4][width]p384.Plain)(v0[j0:j0+4]))
		rot4(prefix, j0, &[4]*[ote.RowBytes]byte{&qd[0], &qd[1], &qd[2], &qd[3]}, &v1)
		for k := range v1 {
			j := j0 + k
			for h := 0; h < width; h++ {
				tmp.Sub(&v0[j][h], &v1[k][h])
				tmp.Add(&tmp, &in[h])
				tmp.PutBytes(at[(j*width+h)*p384.ScalarSize:])
			}
			for h := 0; h < L; h++ {
				cacc[h].AddMul(g.g[j], &v0[j][h])
			}
		}
	}
	clear(qd[:])
	for k := range v1 {
		for h := range v1[k] {
			v1[k][h].Zeroize()
		}
	}
	for h := range in {
		in[h].Zeroize()
	}
	var cp [L]p384.Plain
	for h := range c {
		cacc[h].Reduce(&tmp)
		cacc[h].Zeroize()
		cp[h].Sub(&cp[h], &tmp) // c_h = −Σ_j g_j·v0_{j,h}
		c[h] = cp[h].Scalar(p384.NewScalar())
		cp[h].Zeroize()
	}
	if tamper != nil {
		tamper(at)
	}
	th := thetas(&sid, nonceA, at)
	etaP := p384.NewScalar().Mul(th[0], a[0])
	etaP.Add(etaP, p384.NewScalar().Mul(th[1], a[1]))
	etaP.Add(etaP, eta)
	etaP.PutBytes(msg[NonceSize+Xi*width*p384.ScalarSize:])
	z := make([]byte, Xi*p384.ScalarSize)
	var zj p384.Plain
	for j := 0; j < Xi; j++ {
		zj.MulScalar(th[0], &v0[j][0])
		tmp.MulScalar(th[1], &v0[j][1])
		zj.Add(&zj, &tmp)
		zj.Add(&zj, &v0[j][2])
		zj.PutBytes(z[j*p384.ScalarSize:])
		for h := range v0[j] {
			v0[j][h].Zeroize()
		}
	}
	zj.Zeroize()
	tmp.Zeroize()
	copy(msg[Msg2Size-muSize:], muHash(&sid, nonceA, z))
	clear(z)
	return c, nil
}
