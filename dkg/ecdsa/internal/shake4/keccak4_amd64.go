//go:build amd64 && !purego

package shake4

//go:generate go run gen_amd64.go

//go:noescape
func keccakF1600x4(s *[25][4]uint64)

// permute4 applies Keccak-f[1600] to the four interleaved states.
func permute4(s *[25][4]uint64) { keccakF1600x4(s) }
