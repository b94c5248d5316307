// Package cpufeat reports, once at start-up, which optional x86-64
// instructions the assembly in this module may use. CPUID is read a single
// time (it is slow in a confidential VM, where it traps to the firmware or
// hypervisor); the values are never written afterwards. With the purego
// build tag, or on other architectures, every feature is reported absent.
package cpufeat

var avx2, clmul = detect()

// AVX2 reports whether AVX2 is available and the OS saves the YMM registers.
func AVX2() bool { return avx2 }

// CLMUL reports whether PCLMULQDQ (and SSE4.1) are available.
func CLMUL() bool { return clmul }
