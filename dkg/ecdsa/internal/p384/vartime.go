package p384

import (
	"encoding/binary"
	"io"
	"math/bits"

	"filippo.io/nistec"
)

// ChallengeSize is the length in bytes of a short batching challenge: 128
// bits, so a random linear combination of two group equations accepts a false
// pair with probability at most 2^-128.
const ChallengeSize = 16

// Challenge is a 128-bit random coefficient for a batched check. It must be
// fresh randomness drawn by the verifier after every point of the checked
// equations is fixed, independent of all secret values, and used for one
// check only; it is not secret itself.
type Challenge [ChallengeSize]byte

// RandomChallenge reads a fresh challenge from r.
func RandomChallenge(r io.Reader) (*Challenge, error) {
	c := new(Challenge)
	if _, err := io.ReadFull(r, c[:]); err != nil {
		return nil, ErrRandomness
	}
	return c, nil
}

// Scalar returns the challenge as a scalar (its big-endian value; every
// 128-bit value is < n).
func (c *Challenge) Scalar() *Scalar {
	var b [ScalarSize]byte
	copy(b[ScalarSize-ChallengeSize:], c[:])
	s := new(Scalar)
	felFromBytes(&s.v, &b) // always in range
	return s
}

// wnafWidth is the window of the signed-digit recoding used by
// VarTimeMulChallenge: odd digits in (−2^(w−1), 2^(w−1)).
const wnafWidth = 5

// wnaf returns the width-5 non-adjacent form of the 128-bit big-endian value
// c (least significant digit first) and its length. Variable time.
func wnaf(c *Challenge) ([ChallengeSize*8 + 1]int8, int) {
	var out [ChallengeSize*8 + 1]int8
	// k is c as a little-endian 192-bit integer (room for the carry that a
	// negative digit adds).
	k := [3]uint64{binary.BigEndian.Uint64(c[8:]), binary.BigEndian.Uint64(c[:8]), 0}
	n := 0
	for k[0]|k[1]|k[2] != 0 {
		if k[0]&1 == 1 {
			d := int64(k[0] & (1<<wnafWidth - 1))
			if d >= 1<<(wnafWidth-1) {
				d -= 1 << wnafWidth
			}
			out[n] = int8(d)
			// k -= d (d is odd and |d| < 16, so only a borrow or carry
			// chain follows).
			if d > 0 {
				var b uint64
				k[0], b = bits.Sub64(k[0], uint64(d), 0)
				k[1], b = bits.Sub64(k[1], 0, b)
				k[2], _ = bits.Sub64(k[2], 0, b)
			} else {
				var cy uint64
				k[0], cy = bits.Add64(k[0], uint64(-d), 0)
				k[1], cy = bits.Add64(k[1], 0, cy)
				k[2], _ = bits.Add64(k[2], 0, cy)
			}
		}
		k[0] = k[0]>>1 | k[1]<<63
		k[1] = k[1]>>1 | k[2]<<63
		k[2] >>= 1
		n++
	}
	return out, n
}

// VarTimeMulChallenge returns c·P.
//
// It runs in VARIABLE TIME (signed sliding window, additions skipped for zero
// digits, running time depends on c and on nothing secret): use it only on
// public points with a Challenge, i.e. a public-only computation. It costs
// about 128 doublings and 30 additions, a third of a constant-time
// 384-bit ScalarMult.
func VarTimeMulChallenge(p *Point, c *Challenge) *Point {
	// Odd multiples P, 3P, …, 15P.
	table := [1 << (wnafWidth - 2)]*nistec.P384Point{nistec.NewP384Point(), nistec.NewP384Point(),
		nistec.NewP384Point(), nistec.NewP384Point(), nistec.NewP384Point(), nistec.NewP384Point(),
		nistec.NewP384Point(), nistec.NewP384Point()}
	p2 := nistec.NewP384Point().Double(p)
	table[0].Set(p)
	for i := 1; i < len(table); i++ {
		table[i].Add(table[i-1], p2)
	}
	digits, n := wnaf(c)
	acc := nistec.NewP384Point()
	neg := nistec.NewP384Point()
	for i := n - 1; i >= 0; i-- {
		if i != n-1 {
			acc.Double(acc)
		}
		switch d := digits[i]; {
		case d > 0:
			acc.Add(acc, table[d/2])
		case d < 0:
			neg.Negate(table[(-d)/2])
			acc.Add(acc, neg)
		}
	}
	return acc
}
