package siv

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"fmt"
)

// cmac is AES-CMAC (RFC 4493 / NIST SP 800-38B) with precomputed subkeys.
type cmac struct {
	b      cipher.Block
	k1, k2 [TagSize]byte
}

func newCMAC(key []byte) (*cmac, error) {
	b, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("siv: cmac: %w", err)
	}
	m := &cmac{b: b}
	var l [TagSize]byte
	b.Encrypt(l[:], l[:])
	m.k1 = l
	dbl(&m.k1)
	m.k2 = m.k1
	dbl(&m.k2)
	clear(l[:])
	return m, nil
}

// sum computes CMAC(msg).
func (m *cmac) sum(out *[TagSize]byte, msg []byte) {
	m.sumXorEnd(out, msg, nil)
}

// sumZeroBlock computes CMAC of a single all-zero block.
func (m *cmac) sumZeroBlock(out *[TagSize]byte) {
	var z [TagSize]byte
	m.sum(out, z[:])
}

// sumXorEnd computes CMAC(msg xorend x) where x (if non-nil) is XORed into
// the last 16 bytes of msg (len(msg) must then be ≥ 16), without copying msg.
func (m *cmac) sumXorEnd(out *[TagSize]byte, msg []byte, x *[TagSize]byte) {
	var st, blk [TagSize]byte
	n := len(msg)
	// Number of full blocks processed before the final block.
	full := 0
	if n > 0 {
		full = (n - 1) / TagSize
	}
	xorStart := n - TagSize // first byte position affected by x
	for i := 0; i < full; i++ {
		copy(blk[:], msg[i*TagSize:(i+1)*TagSize])
		if x != nil {
			xorRange(&blk, i*TagSize, xorStart, x)
		}
		subtle.XORBytes(st[:], st[:], blk[:])
		m.b.Encrypt(st[:], st[:])
	}
	rest := msg[full*TagSize:]
	clear(blk[:])
	copy(blk[:], rest)
	if x != nil {
		xorRange(&blk, full*TagSize, xorStart, x)
	}
	if n > 0 && len(rest) == TagSize {
		subtle.XORBytes(blk[:], blk[:], m.k1[:])
	} else {
		blk[len(rest)] = 0x80
		subtle.XORBytes(blk[:], blk[:], m.k2[:])
	}
	subtle.XORBytes(st[:], st[:], blk[:])
	m.b.Encrypt(out[:], st[:])
}

// xorRange XORs into blk (which holds message bytes [off, off+16)) the bytes of
// x that cover message positions [xorStart, xorStart+16).
func xorRange(blk *[TagSize]byte, off, xorStart int, x *[TagSize]byte) {
	for j := 0; j < TagSize; j++ {
		p := off + j - xorStart
		if p >= 0 && p < TagSize {
			blk[j] ^= x[p]
		}
	}
}
