//go:build amd64 && !purego

#include "textflag.h"

// func compressCLMUL(c *[5]gf128, v *[96]byte) (lo, hi uint64)
//
// Returns v[5] + Σ_{k<5} c[k]·v[k] in GF(2^128) = GF(2)[x]/(x^128 + x^7 +
// x^2 + x + 1), where v[k] is the k-th 16-byte little-endian block (bit i of
// a block is the coefficient of x^i, which is also PCLMULQDQ's convention).
// The five 256-bit carry-less products are summed unreduced and reduced once.
// PCLMULQDQ runs in time independent of its operands.
TEXT ·compressCLMUL(SB), NOSPLIT, $0-32
	MOVQ c+0(FP), SI
	MOVQ v+8(FP), DI
	PXOR X0, X0 // Σ lo·lo  (coefficients x^0..x^127)
	PXOR X1, X1 // Σ hi·hi  (x^128..x^255)
	PXOR X2, X2 // Σ lo·hi + hi·lo (x^64..x^191)

#define TERM(off) \
	MOVOU off(SI), X3 \
	MOVOU off(DI), X4 \
	MOVOU X3, X5 \
	PCLMULQDQ $0x00, X4, X5 \
	PXOR X5, X0 \
	MOVOU X3, X5 \
	PCLMULQDQ $0x11, X4, X5 \
	PXOR X5, X1 \
	MOVOU X3, X5 \
	PCLMULQDQ $0x01, X4, X5 \
	PXOR X5, X2 \
	PCLMULQDQ $0x10, X4, X3 \
	PXOR X3, X2

	TERM(0)
	TERM(16)
	TERM(32)
	TERM(48)
	TERM(64)

	// Split the middle sum across the halves.
	MOVOU X2, X3
	PSLLDQ $8, X3
	PXOR X3, X0
	PSRLDQ $8, X2
	PXOR X2, X1

	// Add the unmultiplied last block.
	MOVOU 80(DI), X3
	PXOR X3, X0

	// Reduce X1:X0 = r3:r2:r1:r0 with x^128 = x^7 + x^2 + x + 1 (0x87):
	// r3·x^192 → r3·0x87 (≤ 71 bits) at x^64, then r2·x^128 → r2·0x87 at x^0.
	MOVQ $0x87, AX
	MOVQ AX, X6
	MOVOU X1, X3
	PCLMULQDQ $0x01, X6, X3 // r3·0x87
	MOVOU X3, X4
	PSLLDQ $8, X4
	PXOR X4, X0 // low word into r1
	PSRLDQ $8, X3
	PXOR X3, X1 // high bits into r2
	PCLMULQDQ $0x00, X6, X1 // r2·0x87
	PXOR X1, X0

	MOVQ X0, AX
	PEXTRQ $1, X0, BX
	MOVQ AX, lo+16(FP)
	MOVQ BX, hi+24(FP)
	RET
