//go:build !amd64 || purego

package ote

// compress returns C(v) = v[blocks−1] + Σ_{k<blocks−1} c_k·v[k].
func compress(c *[blocks - 1]gf128, v []byte) gf128 { return compressGeneric(c, v) }
