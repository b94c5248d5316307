//go:build amd64 && !purego

package ote

import "github.com/cc-tsa/cc-tsa/dkg/ecdsa/internal/cpufeat"

//go:noescape
func compressCLMUL(c *[blocks - 1]gf128, v *[ColBytes]byte) (lo, hi uint64)

// compress returns C(v) = v[blocks−1] + Σ_{k<blocks−1} c_k·v[k], with
// PCLMULQDQ when the CPU has it.
func compress(c *[blocks - 1]gf128, v []byte) gf128 {
	if cpufeat.CLMUL() {
		lo, hi := compressCLMUL(c, (*[ColBytes]byte)(v))
		return gf128{lo: lo, hi: hi}
	}
	return compressGeneric(c, v)
}
