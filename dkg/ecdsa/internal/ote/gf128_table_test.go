package ote

// The table multiply below was the production GF(2^128) multiply before the
// carry-less integer version (gfMul); it stays as a second, independent
// reference in tests.

// mulX returns a·x, in constant time.
func (a gf128) mulX() gf128 {
	carry := a.hi >> 63
	return gf128{lo: a.lo<<1 ^ (0x87 & -carry), hi: a.hi<<1 | a.lo>>63}
}

// gfTable holds c·x^k for k < 128, for a public c.
type gfTable [128]gf128

func newTable(c gf128) *gfTable {
	var t gfTable
	t[0] = c
	for k := 1; k < 128; k++ {
		t[k] = t[k-1].mulX()
	}
	return &t
}

// mul returns c·v where c is the table's public element and v may be secret:
// every table entry is touched and masked by the bits of v, so the memory
// access pattern and timing do not depend on v.
func (t *gfTable) mul(v gf128) gf128 {
	var acc gf128
	for k := 0; k < 64; k++ {
		m := -((v.lo >> k) & 1)
		acc.lo ^= t[k].lo & m
		acc.hi ^= t[k].hi & m
	}
	for k := 0; k < 64; k++ {
		m := -((v.hi >> k) & 1)
		acc.lo ^= t[64+k].lo & m
		acc.hi ^= t[64+k].hi & m
	}
	return acc
}
