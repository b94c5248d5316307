//go:build !amd64 || purego

package cpufeat

func detect() (avx2, clmul bool) { return false, false }

func detectable() bool { return false }
