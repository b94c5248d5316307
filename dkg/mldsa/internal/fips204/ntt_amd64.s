//go:build amd64 && !purego

#include "textflag.h"

// Constants broadcast to 8 lanes.
DATA ·avxQ<>+0(SB)/4, $8380417
GLOBL ·avxQ<>(SB), RODATA|NOPTR, $4
DATA ·avxQNegInv<>+0(SB)/4, $4236238847
GLOBL ·avxQNegInv<>(SB), RODATA|NOPTR, $4
DATA ·avx2Q<>+0(SB)/4, $16760834
GLOBL ·avx2Q<>(SB), RODATA|NOPTR, $4
DATA ·avxNInv<>+0(SB)/4, $16382
GLOBL ·avxNInv<>(SB), RODATA|NOPTR, $4

// MONTLAZY computes, for 8 lanes, Z·B·2^-32 mod q in [0, 2q) into OUT.
// Z holds the same multiplier in every dword; QI and QQ hold -q^-1 and q in
// every dword. VPMULUDQ multiplies the low dwords of each qword, so even
// lanes are handled directly and odd lanes after a 32-bit right shift; the
// Montgomery quotient m = low32(t)·(-q^-1) and t + m·q are formed in 64-bit
// lanes, whose high dwords are the results (even ones shifted down, odd ones
// blended in place). T1, T2, T3 are scratch.
#define MONTLAZY(Z, B, OUT, QI, QQ, T1, T2, T3) \
	VPMULUDQ B, Z, OUT; \
	VPSRLQ   $32, B, T1; \
	VPMULUDQ T1, Z, T1; \
	VPMULUDQ OUT, QI, T2; \
	VPMULUDQ T2, QQ, T2; \
	VPADDQ   T2, OUT, OUT; \
	VPMULUDQ T1, QI, T3; \
	VPMULUDQ T3, QQ, T3; \
	VPADDQ   T3, T1, T1; \
	VPSRLQ   $32, OUT, OUT; \
	VPBLENDD $0xAA, T1, OUT, OUT

// func ctGroupAVX2(a, b *uint32, n int, z uint32)
TEXT ·ctGroupAVX2(SB), NOSPLIT, $0-28
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	MOVQ n+16(FP), CX
	MOVL z+24(FP), DX
	VMOVD DX, X1
	VPBROADCASTD X1, Y1
	VPBROADCASTD ·avxQNegInv<>(SB), Y13
	VPBROADCASTD ·avxQ<>(SB), Y14
	VPBROADCASTD ·avx2Q<>(SB), Y15
ctloop:
	VMOVDQU (BX), Y2
	MONTLAZY(Y1, Y2, Y3, Y13, Y14, Y4, Y5, Y6)
	VMOVDQU (AX), Y0
	VPADDD  Y3, Y0, Y7
	VPADDD  Y15, Y0, Y8
	VPSUBD  Y3, Y8, Y8
	VMOVDQU Y7, (AX)
	VMOVDQU Y8, (BX)
	ADDQ    $32, AX
	ADDQ    $32, BX
	SUBQ    $8, CX
	JNZ     ctloop
	VZEROUPPER
	RET

// func gsGroupAVX2(a, b *uint32, n int, z, bound uint32)
TEXT ·gsGroupAVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), AX
	MOVQ b+8(FP), BX
	MOVQ n+16(FP), CX
	MOVL z+24(FP), DX
	VMOVD DX, X1
	VPBROADCASTD X1, Y1
	MOVL bound+28(FP), DX
	VMOVD DX, X12
	VPBROADCASTD X12, Y12
	VPBROADCASTD ·avxQNegInv<>(SB), Y13
	VPBROADCASTD ·avxQ<>(SB), Y14
gsloop:
	VMOVDQU (AX), Y0
	VMOVDQU (BX), Y2
	VPADDD  Y2, Y0, Y7
	VPADDD  Y12, Y0, Y8
	VPSUBD  Y2, Y8, Y8
	MONTLAZY(Y1, Y8, Y3, Y13, Y14, Y4, Y5, Y6)
	VMOVDQU Y7, (AX)
	VMOVDQU Y3, (BX)
	ADDQ    $32, AX
	ADDQ    $32, BX
	SUBQ    $8, CX
	JNZ     gsloop
	VZEROUPPER
	RET

// func reduce17AVX2(p *Poly)
TEXT ·reduce17AVX2(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	MOVQ $32, CX
	VPBROADCASTD ·avxQ<>(SB), Y14
redloop:
	VMOVDQU (AX), Y0
	VPSRLD  $23, Y0, Y1     // k = x >> 23 ≤ 16
	VPMULLD Y14, Y1, Y1     // k*q
	VPSUBD  Y1, Y0, Y0      // r = x - k q in [0, 2q)
	VPSUBD  Y14, Y0, Y2     // r - q (wraps when r < q)
	VPMINUD Y2, Y0, Y0
	VMOVDQU Y0, (AX)
	ADDQ    $32, AX
	DECQ    CX
	JNZ     redloop
	VZEROUPPER
	RET

// func invFinalAVX2(p *Poly)
TEXT ·invFinalAVX2(SB), NOSPLIT, $0-8
	MOVQ p+0(FP), AX
	MOVQ $32, CX
	VPBROADCASTD ·avxNInv<>(SB), Y1
	VPBROADCASTD ·avxQNegInv<>(SB), Y13
	VPBROADCASTD ·avxQ<>(SB), Y14
finloop:
	VMOVDQU (AX), Y2
	MONTLAZY(Y1, Y2, Y3, Y13, Y14, Y4, Y5, Y6)
	VPSUBD  Y14, Y3, Y2
	VPMINUD Y2, Y3, Y3
	VMOVDQU Y3, (AX)
	ADDQ    $32, AX
	DECQ    CX
	JNZ     finloop
	VZEROUPPER
	RET

// MONTLAZYV is MONTLAZY with a per-lane multiplier A (T4 is extra scratch).
#define MONTLAZYV(A, B, OUT, QI, QQ, T1, T2, T3, T4) \
	VPMULUDQ B, A, OUT; \
	VPSRLQ   $32, B, T1; \
	VPSRLQ   $32, A, T4; \
	VPMULUDQ T1, T4, T1; \
	VPMULUDQ OUT, QI, T2; \
	VPMULUDQ T2, QQ, T2; \
	VPADDQ   T2, OUT, OUT; \
	VPMULUDQ T1, QI, T3; \
	VPMULUDQ T3, QQ, T3; \
	VPADDQ   T3, T1, T1; \
	VPSRLQ   $32, OUT, OUT; \
	VPBLENDD $0xAA, T1, OUT, OUT

// func mulMontAVX2(out, a, b *Poly)
TEXT ·mulMontAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ $32, CX
	VPBROADCASTD ·avxQNegInv<>(SB), Y13
	VPBROADCASTD ·avxQ<>(SB), Y14
mmloop:
	VMOVDQU (AX), Y0
	VMOVDQU (BX), Y1
	MONTLAZYV(Y0, Y1, Y3, Y13, Y14, Y4, Y5, Y6, Y7)
	VPSUBD  Y14, Y3, Y2
	VPMINUD Y2, Y3, Y3
	VMOVDQU Y3, (DI)
	ADDQ    $32, AX
	ADDQ    $32, BX
	ADDQ    $32, DI
	DECQ    CX
	JNZ     mmloop
	VZEROUPPER
	RET

// MACC accumulates the 64-bit products of the even (EV) and odd (OD) lanes
// of the polynomials at offsets OFF of row (SI) and y (DX).
#define MACC(OFF, EV, OD) \
	VMOVDQU OFF(SI)(R8*1), Y0; \
	VMOVDQU OFF(DX)(R8*1), Y1; \
	VPMULUDQ Y1, Y0, Y2; \
	VPADDQ   Y2, EV, EV; \
	VPSRLQ   $32, Y0, Y0; \
	VPSRLQ   $32, Y1, Y1; \
	VPMULUDQ Y1, Y0, Y2; \
	VPADDQ   Y2, OD, OD

// func matRowAVX2(out *Poly, row *[L]Poly, y *VecL)
// out = Σ_{k<5} row[k] ∘ y[k] · 2^-32 mod q, in [0, q). The five 64-bit
// products per lane stay below 5q² < q·2^32, so one Montgomery reduction of
// the sum is exact.
TEXT ·matRowAVX2(SB), NOSPLIT, $0-24
	MOVQ out+0(FP), DI
	MOVQ row+8(FP), SI
	MOVQ y+16(FP), DX
	XORQ R8, R8
	VPBROADCASTD ·avxQNegInv<>(SB), Y13
	VPBROADCASTD ·avxQ<>(SB), Y14
mrloop:
	VPXOR Y8, Y8, Y8
	VPXOR Y9, Y9, Y9
	MACC(0, Y8, Y9)
	MACC(1024, Y8, Y9)
	MACC(2048, Y8, Y9)
	MACC(3072, Y8, Y9)
	MACC(4096, Y8, Y9)
	VPMULUDQ Y8, Y13, Y2
	VPMULUDQ Y2, Y14, Y2
	VPADDQ   Y2, Y8, Y8
	VPMULUDQ Y9, Y13, Y3
	VPMULUDQ Y3, Y14, Y3
	VPADDQ   Y3, Y9, Y9
	VPSRLQ   $32, Y8, Y8
	VPBLENDD $0xAA, Y9, Y8, Y8
	VPSUBD   Y14, Y8, Y2
	VPMINUD  Y2, Y8, Y8
	VMOVDQU  Y8, (DI)(R8*1)
	ADDQ     $32, R8
	CMPQ     R8, $1024
	JNE      mrloop
	VZEROUPPER
	RET

// Shuffles between the natural order of 16 coefficients in (Y0, Y1) and the
// butterfly operands (A, B) of the layers with length 4, 2 and 1.
//   length 4: A = [Y0.lo128, Y1.lo128], B = [Y0.hi128, Y1.hi128]
//   length 2: A = qwords 0 of every 128-bit lane, B = qwords 1 (VPUNPCK[LH]QDQ)
//   length 1: A = even dwords (Y0's in even lanes, Y1's in odd lanes), B = odd dwords

// func nttLast3AVX2(p *Poly, z *[16][24]uint32)
// Cooley–Tukey layers of length 4, 2, 1 with lazy reduction (as nttLayers).
TEXT ·nttLast3AVX2(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ z+8(FP), BX
	MOVQ $16, CX
	VPBROADCASTD ·avxQNegInv<>(SB), Y13
	VPBROADCASTD ·avxQ<>(SB), Y14
	VPBROADCASTD ·avx2Q<>(SB), Y15
l3loop:
	VMOVDQU (AX), Y0
	VMOVDQU 32(AX), Y1
	// length 4
	VPERM2I128 $0x20, Y1, Y0, Y8
	VPERM2I128 $0x31, Y1, Y0, Y9
	VMOVDQU    (BX), Y10
	MONTLAZYV(Y10, Y9, Y3, Y13, Y14, Y4, Y5, Y6, Y7)
	VPADDD     Y3, Y8, Y11
	VPADDD     Y15, Y8, Y12
	VPSUBD     Y3, Y12, Y12
	VPERM2I128 $0x20, Y12, Y11, Y0
	VPERM2I128 $0x31, Y12, Y11, Y1
	// length 2
	VPUNPCKLQDQ Y1, Y0, Y8
	VPUNPCKHQDQ Y1, Y0, Y9
	VMOVDQU     32(BX), Y10
	MONTLAZYV(Y10, Y9, Y3, Y13, Y14, Y4, Y5, Y6, Y7)
	VPADDD      Y3, Y8, Y11
	VPADDD      Y15, Y8, Y12
	VPSUBD      Y3, Y12, Y12
	VPUNPCKLQDQ Y12, Y11, Y0
	VPUNPCKHQDQ Y12, Y11, Y1
	// length 1
	VPSLLQ   $32, Y1, Y2
	VPBLENDD $0xAA, Y2, Y0, Y8
	VPSRLQ   $32, Y0, Y2
	VPBLENDD $0xAA, Y1, Y2, Y9
	VMOVDQU  64(BX), Y10
	MONTLAZYV(Y10, Y9, Y3, Y13, Y14, Y4, Y5, Y6, Y7)
	VPADDD   Y3, Y8, Y11
	VPADDD   Y15, Y8, Y12
	VPSUBD   Y3, Y12, Y12
	VPSLLQ   $32, Y12, Y2
	VPBLENDD $0xAA, Y2, Y11, Y0
	VPSRLQ   $32, Y11, Y2
	VPBLENDD $0xAA, Y12, Y2, Y1
	VMOVDQU  Y0, (AX)
	VMOVDQU  Y1, 32(AX)
	ADDQ     $64, AX
	ADDQ     $96, BX
	DECQ     CX
	JNZ      l3loop
	VZEROUPPER
	RET

// GSV computes A, B = A + B, montLazy(Z, A + BOUND − B) in place.
#define GSV(A, B, Z, BOUND) \
	VPADDD BOUND, A, Y11; \
	VPSUBD B, Y11, Y11; \
	VPADDD B, A, A; \
	MONTLAZYV(Z, Y11, B, Y13, Y14, Y4, Y5, Y6, Y7)

// func invFirst3AVX2(p *Poly, z *[16][24]uint32)
// Gentleman–Sande layers of length 1, 2, 4 with bounds q, 2q, 4q (as
// invNTTLayers).
TEXT ·invFirst3AVX2(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), AX
	MOVQ z+8(FP), BX
	MOVQ $16, CX
	VPBROADCASTD ·avxQNegInv<>(SB), Y13
	VPBROADCASTD ·avxQ<>(SB), Y14
	VPADDD Y14, Y14, Y15 // 2q
	VPADDD Y15, Y15, Y12 // 4q
i3loop:
	VMOVDQU (AX), Y0
	VMOVDQU 32(AX), Y1
	// length 1 (bound q)
	VPSLLQ   $32, Y1, Y2
	VPBLENDD $0xAA, Y2, Y0, Y8
	VPSRLQ   $32, Y0, Y2
	VPBLENDD $0xAA, Y1, Y2, Y9
	VMOVDQU  (BX), Y10
	GSV(Y8, Y9, Y10, Y14)
	VPSLLQ   $32, Y9, Y2
	VPBLENDD $0xAA, Y2, Y8, Y0
	VPSRLQ   $32, Y8, Y2
	VPBLENDD $0xAA, Y9, Y2, Y1
	// length 2 (bound 2q)
	VPUNPCKLQDQ Y1, Y0, Y8
	VPUNPCKHQDQ Y1, Y0, Y9
	VMOVDQU     32(BX), Y10
	GSV(Y8, Y9, Y10, Y15)
	VPUNPCKLQDQ Y9, Y8, Y0
	VPUNPCKHQDQ Y9, Y8, Y1
	// length 4 (bound 4q)
	VPERM2I128 $0x20, Y1, Y0, Y8
	VPERM2I128 $0x31, Y1, Y0, Y9
	VMOVDQU    64(BX), Y10
	GSV(Y8, Y9, Y10, Y12)
	VPERM2I128 $0x20, Y9, Y8, Y0
	VPERM2I128 $0x31, Y9, Y8, Y1
	VMOVDQU    Y0, (AX)
	VMOVDQU    Y1, 32(AX)
	ADDQ       $64, AX
	ADDQ       $96, BX
	DECQ       CX
	JNZ        i3loop
	VZEROUPPER
	RET
