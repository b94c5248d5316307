// Package ote implements KOS-style correlated OT extension (SoftSpokenOT
// with k = 1) from 256 base OTs, with the corrected consistency check of
// SoftSpokenOT / the revised KOS made non-interactive with Fiat–Shamir.
//
// The extension receiver chooses x = β ‖ p (640 choice bits and a 128-bit
// random pad) and sends, per column i < 256, u_i = t0_i ⊕ t1_i ⊕ x together
// with the check values x̃ = C(x) and t̃_i = C(t0_i), where
// C(v) = Σ_{k≤5} c_k·v[k] + v[6] over GF(2^128) and the c_k are derived from
// the session and all u_i. The sender holding Δ recomputes
// q_i = t0_i ⊕ Δ_i·x and checks C(q_i) = t̃_i ⊕ Δ_i·x̃ for every column. A
// failed check leaks information about Δ: the caller must stop using the
// setup permanently (ErrCheck).
//
// After transposition both sides hold 640 rows of 256 bits with
// Q_j = T_j ⊕ β_j·Δ.
package ote

import (
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/baseot"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/shake4"
	"github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/transcript"
)

// Parameters.
const (
	Kappa     = baseot.Count // columns (base OTs)
	Xi        = 640          // extended OTs delivered (|n| + 2·128)
	ColBytes  = 96           // 768 bits per column: Xi + one 128-bit pad block
	RowBytes  = Kappa / 8    // 32
	blocks    = ColBytes / 16
	XiBytes   = Xi / 8
	checkSize = 16
	// MsgSize is the length of the receiver's message.
	MsgSize = Kappa*ColBytes + checkSize + Kappa*checkSize
)

// Errors.
var (
	ErrLength = errors.New("ote: message has wrong length")
	ErrCheck  = errors.New("ote: consistency check failed (receiver cheated); ban this pair")
)

// SenderSetup is the extension sender's base-OT material (it was the base-OT
// receiver): the correlation Δ and the chosen seeds.
type SenderSetup = baseot.ReceiverOutput

// ReceiverSetup is the extension receiver's base-OT material (it was the
// base-OT sender): both seeds of every base OT.
type ReceiverSetup = baseot.SenderOutput

// Rows holds Xi rows of Kappa bits.
type Rows [Xi][RowBytes]byte

// prgPrefix is the transcript prefix of the seed expansion, padded to a
// block boundary so that the four-way hash can start from its state.
func prgPrefix(sid *[32]byte) (*shake4.Prefix, error) {
	p, err := transcript.New("ote/prg").Bytes(sid[:]).PadBlock().Prefix4()
	if err != nil {
		return nil, fmt.Errorf("ote: PRG prefix: %w", err)
	}
	return p, nil
}

// prgMsgSize is the per-seed suffix Uint32(i) ‖ Bytes(seed).
const prgMsgSize = 4 + 4 + baseot.SeedSize

// prg4 expands four seeds: out[k] (ColBytes long) is the transcript
// prefix ‖ Uint32(idx[k]) ‖ Bytes(seeds[k]) squeezed, the four hashes side by
// side (see shake4).
func prg4(prefix *shake4.Prefix, idx [4]int, seeds [4]*[baseot.SeedSize]byte, out [4][]byte) {
	var msg [4][prgMsgSize]byte
	var ms [4][]byte
	for k := range msg {
		binary.BigEndian.PutUint32(msg[k][0:], uint32(idx[k]))
		binary.BigEndian.PutUint32(msg[k][4:], baseot.SeedSize)
		copy(msg[k][8:], seeds[k][:])
		ms[k] = msg[k][:]
		out[k] = out[k][:ColBytes]
	}
	prefix.Sum4(&ms, &out)
	clear(msg[:])
}

// challenges derives the check coefficients c_k (Fiat–Shamir) from the
// session and every column u_i; u is absorbed as a four-leaf tree digest
// (transcript.BytesTree), which binds every byte of it.
func challenges(sid *[32]byte, u []byte) [blocks - 1]gf128 {
	t := transcript.New("ote/challenge").Bytes(sid[:]).BytesTree(u)
	var buf [16]byte
	var out [blocks - 1]gf128
	for k := range out {
		t.Read(buf[:])
		out[k] = gfLoad(buf[:])
	}
	return out
}

// compressGeneric is compress with the portable constant-time gfMul.
func compressGeneric(c *[blocks - 1]gf128, v []byte) gf128 {
	acc := gfLoad(v[(blocks-1)*16:])
	for k := 0; k < blocks-1; k++ {
		acc = acc.xor(gfMul(c[k], gfLoad(v[k*16:])))
	}
	return acc
}

// transpose writes the first Xi bits of each of the Kappa columns as rows:
// bit j of column i becomes bit i of row j. It works on 8×8 bit blocks (eight
// columns × one byte): the eight bytes are packed into a uint64, transposed
// with three fixed masked swaps, and unpacked into one byte of eight rows.
// The sequence of operations does not depend on the data.
func transpose(cols *[Kappa][ColBytes]byte, rows *Rows) {
	for ib := 0; ib < Kappa/8; ib++ {
		c := cols[ib*8 : ib*8+8]
		for jb := 0; jb < XiBytes; jb++ {
			// Byte k of x is column 8·ib+k; bit b of byte k is its row 8·jb+b.
			x := uint64(c[0][jb]) | uint64(c[1][jb])<<8 | uint64(c[2][jb])<<16 | uint64(c[3][jb])<<24 |
				uint64(c[4][jb])<<32 | uint64(c[5][jb])<<40 | uint64(c[6][jb])<<48 | uint64(c[7][jb])<<56
			x = transpose8(x)
			for b := 0; b < 8; b++ {
				rows[jb*8+b][ib] = byte(x >> (8 * b))
			}
		}
	}
}

// transpose8 transposes the 8×8 bit matrix whose entry (r, c) is bit 8r+c.
func transpose8(x uint64) uint64 {
	t := (x ^ (x >> 7)) & 0x00aa00aa00aa00aa
	x ^= t ^ (t << 7)
	t = (x ^ (x >> 14)) & 0x0000cccc0000cccc
	x ^= t ^ (t << 14)
	t = (x ^ (x >> 28)) & 0x00000000f0f0f0f0
	x ^= t ^ (t << 28)
	return x
}

// Extend is the receiver's step: for choice vector x (ColBytes bytes: the
// first 80 bytes are β, the last 16 a uniformly random pad), it returns the
// message and the rows T_j.
func Extend(setup *ReceiverSetup, sid [32]byte, x *[ColBytes]byte) ([]byte, *Rows, error) {
	msg := make([]byte, MsgSize)
	rows, err := ExtendInto(msg, setup, sid, x)
	if err != nil {
		return nil, nil, err
	}
	return msg, rows, nil
}

// ExtendInto is Extend writing the message into msg, which must have length
// MsgSize; it returns the rows T_j.
func ExtendInto(msg []byte, setup *ReceiverSetup, sid [32]byte, x *[ColBytes]byte) (*Rows, error) {
	msg = msg[:MsgSize]
	u := msg[:Kappa*ColBytes]
	t0 := new([Kappa][ColBytes]byte)
	var t1 [2][ColBytes]byte
	pp, err := prgPrefix(&sid)
	if err != nil {
		return nil, err
	}
	for i := 0; i < Kappa; i += 2 {
		prg4(pp, [4]int{i, i, i + 1, i + 1},
			[4]*[baseot.SeedSize]byte{&setup.K0[i], &setup.K1[i], &setup.K0[i+1], &setup.K1[i+1]},
			[4][]byte{t0[i][:], t1[0][:], t0[i+1][:], t1[1][:]})
		for k := 0; k < 2; k++ {
			ui := u[(i+k)*ColBytes : (i+k+1)*ColBytes]
			subtle.XORBytes(ui, t0[i+k][:], t1[k][:])
			subtle.XORBytes(ui, ui, x[:])
		}
	}
	clear(t1[:])
	c := challenges(&sid, u)
	compress(&c, x[:]).store(msg[Kappa*ColBytes:])
	tt := msg[Kappa*ColBytes+checkSize:]
	for i := 0; i < Kappa; i++ {
		compress(&c, t0[i][:]).store(tt[i*checkSize:])
	}
	rows := new(Rows)
	transpose(t0, rows)
	clear(t0[:])
	return rows, nil
}

// Receive is the sender's step: it checks the receiver's message and returns
// the rows Q_j = T_j ⊕ β_j·Δ. On ErrCheck the setup must never be used again.
func Receive(setup *SenderSetup, sid [32]byte, msg []byte) (*Rows, error) {
	if len(msg) != MsgSize {
		return nil, ErrLength
	}
	u := msg[:Kappa*ColBytes]
	xt := gfLoad(msg[Kappa*ColBytes:])
	tt := msg[Kappa*ColBytes+checkSize:]
	c := challenges(&sid, u)
	q := new([Kappa][ColBytes]byte)
	var masked [ColBytes]byte
	ok := 1
	var got, want [16]byte
	pp, err := prgPrefix(&sid)
	if err != nil {
		return nil, err
	}
	for i := 0; i < Kappa; i++ {
		if i%4 == 0 {
			prg4(pp, [4]int{i, i + 1, i + 2, i + 3},
				[4]*[baseot.SeedSize]byte{&setup.K[i], &setup.K[i+1], &setup.K[i+2], &setup.K[i+3]},
				[4][]byte{q[i][:], q[i+1][:], q[i+2][:], q[i+3][:]})
		}
		m := -setup.Bit(i)
		for k := range masked {
			masked[k] = u[i*ColBytes+k] & m
		}
		subtle.XORBytes(q[i][:], q[i][:], masked[:])
		compress(&c, q[i][:]).store(got[:])
		mx := gf128{lo: xt.lo & uint64(-int64(setup.Bit(i))), hi: xt.hi & uint64(-int64(setup.Bit(i)))}
		gfLoad(tt[i*checkSize:]).xor(mx).store(want[:])
		ok &= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if ok != 1 {
		clear(q[:])
		return nil, ErrCheck
	}
	rows := new(Rows)
	transpose(q, rows)
	clear(q[:])
	return rows, nil
}
