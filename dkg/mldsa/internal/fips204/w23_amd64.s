//go:build amd64 && !purego

#include "textflag.h"

// Byte shuffles for one group of eight 23-bit coefficients (23 bytes at
// offset B): the low 128-bit half is loaded from B and gathers the four bytes
// of coefficients 0..3 (byte offsets 0, 2, 5, 8), the high half is loaded
// from B+11 and gathers those of coefficients 4..7 (offsets 11, 14, 17, 20).
DATA ·w23Shuf<>+0(SB)/8, $0x0504030203020100
DATA ·w23Shuf<>+8(SB)/8, $0x0B0A090808070605
DATA ·w23Shuf<>+16(SB)/8, $0x0605040303020100
DATA ·w23Shuf<>+24(SB)/8, $0x0C0B0A0909080706
GLOBL ·w23Shuf<>(SB), RODATA|NOPTR, $32

// For the last group the high half is loaded from B+7 (so that no byte past
// the 736-byte encoding is read); coefficient 7 needs only three bytes.
DATA ·w23ShufLast<>+0(SB)/8, $0x0504030203020100
DATA ·w23ShufLast<>+8(SB)/8, $0x0B0A090808070605
DATA ·w23ShufLast<>+16(SB)/8, $0x0A09080707060504
DATA ·w23ShufLast<>+24(SB)/8, $0x800F0E0D0D0C0B0A
GLOBL ·w23ShufLast<>(SB), RODATA|NOPTR, $32

// Bit offsets 23k mod 8 of the coefficients within their first byte.
DATA ·w23Shift<>+0(SB)/8, $0x0000000700000000
DATA ·w23Shift<>+8(SB)/8, $0x0000000500000006
DATA ·w23Shift<>+16(SB)/8, $0x0000000300000004
DATA ·w23Shift<>+24(SB)/8, $0x0000000100000002
GLOBL ·w23Shift<>(SB), RODATA|NOPTR, $32

DATA ·w23Mask<>+0(SB)/4, $0x7FFFFF
GLOBL ·w23Mask<>(SB), RODATA|NOPTR, $4
DATA ·w23Q<>+0(SB)/4, $8380417
GLOBL ·w23Q<>(SB), RODATA|NOPTR, $4
DATA ·w23QM1<>+0(SB)/4, $8380416
GLOBL ·w23QM1<>(SB), RODATA|NOPTR, $4

// W23GROUP decodes the group loaded in Y0 with shuffle SHUF into Y0, ORs
// the lanes that are not below q into Y15 and, when DX is non-zero, adds
// the eight coefficients at (DI) mod q (inputs below q; min(x, x−q) as
// unsigned is x mod q for x < 2q); then stores Y0 at (DI).
#define W23GROUP(SHUF, LBL) \
	VPSHUFB  SHUF, Y0, Y0; \
	VPSRLVD  Y11, Y0, Y0; \
	VPAND    Y12, Y0, Y0; \
	VPCMPGTD Y14, Y0, Y1; \
	VPOR     Y1, Y15, Y15; \
	TESTQ    DX, DX; \
	JZ       LBL; \
	VPADDD   (DI), Y0, Y0; \
	VPSUBD   Y13, Y0, Y2; \
	VPMINUD  Y2, Y0, Y0; \
LBL: \
	VMOVDQU  Y0, (DI)

// func w23AVX2(p *Poly, src *[PolyW23Size]byte, add bool) uint32
TEXT ·w23AVX2(SB), NOSPLIT, $0-28
	MOVQ    p+0(FP), DI
	MOVQ    src+8(FP), SI
	MOVBLZX add+16(FP), DX
	VMOVDQU ·w23Shuf<>(SB), Y10
	VMOVDQU ·w23Shift<>(SB), Y11
	VPBROADCASTD ·w23Mask<>(SB), Y12
	VPBROADCASTD ·w23Q<>(SB), Y13
	VPBROADCASTD ·w23QM1<>(SB), Y14
	VPXOR   Y15, Y15, Y15
	MOVQ    $31, CX

w23loop:
	VMOVDQU     (SI), X0
	VINSERTI128 $1, 11(SI), Y0, Y0
	W23GROUP(Y10, w23next)
	ADDQ $23, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  w23loop

	VMOVDQU     ·w23ShufLast<>(SB), Y10
	VMOVDQU     (SI), X0
	VINSERTI128 $1, 7(SI), Y0, Y0
	W23GROUP(Y10, w23last)

	XORL  AX, AX
	VPTEST Y15, Y15
	SETNE AL
	MOVL  AX, ret+24(FP)
	VZEROUPPER
	RET
