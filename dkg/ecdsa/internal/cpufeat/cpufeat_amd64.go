//go:build amd64 && !purego

package cpufeat

func cpuid(eaxArg, ecxArg uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax, edx uint32)

func detect() (avx2, clmul bool) {
	maxID, _, _, _ := cpuid(0, 0)
	if maxID < 1 {
		return false, false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const pclmulqdq, sse41, osxsave, avx = 1 << 1, 1 << 19, 1 << 27, 1 << 28
	clmul = ecx1&pclmulqdq != 0 && ecx1&sse41 != 0
	if maxID < 7 || ecx1&osxsave == 0 || ecx1&avx == 0 {
		return false, clmul
	}
	if xcr0, _ := xgetbv(); xcr0&6 != 6 { // the OS saves XMM and YMM state
		return false, clmul
	}
	_, ebx7, _, _ := cpuid(7, 0)
	return ebx7&(1<<5) != 0, clmul
}

// detectable reports whether this build reads CPUID at all (not purego).
func detectable() bool { return true }
