//go:build !amd64 || purego

package shake4

func permute4(s *[25][4]uint64) { panic("shake4: no four-way permutation on this platform") }
