#include "textflag.h"

// asciiSafe16 checks len(s) >= 16 bytes sixteen at a time with SSE2
// (which every amd64 CPU has). A byte is in range when it is above 0x1F
// as a signed byte, so 0x20-0x7F; X3 gathers "in range" with AND and X0
// "is one of the bytes to refuse" with OR. The last step loads the final
// sixteen bytes, overlapping bytes already checked.

// BCAST fills the vector register reg with the byte b (given as a
// 64-bit pattern), through AX.
#define BCAST(pattern, reg) \
	MOVQ $pattern, AX \
	MOVQ AX, reg \
	PUNPCKLQDQ reg, reg

// RANGE folds "X1's bytes are 0x20-0x7F" into X3 (X5 holds 0x1F).
#define RANGE \
	MOVO X1, X2 \
	PCMPGTB X5, X2 \
	PAND X2, X3

// REFUSE folds "X1's bytes equal reg's" into X0.
#define REFUSE(reg) \
	MOVO X1, X2 \
	PCMPEQB reg, X2 \
	POR X2, X0

// CHECK folds one step's sixteen bytes in X1 into X3 and X0: '"' and
// '\\' only.
#define CHECK \
	RANGE \
	REFUSE(X6) \
	REFUSE(X7)

// CHECKHTML is CHECK, and refuses '<', '>' and '&' too.
#define CHECKHTML \
	CHECK \
	REFUSE(X8) \
	REFUSE(X9) \
	REFUSE(X10)

// func asciiSafe16(s []byte, html bool) bool
//
// Whether s holds only 0x20-0x7F other than '"' and '\\', and with html
// also other than '<', '>' and '&' (htmlSafe). Each has its own loop:
// comparing three more registers every step cost the read path, which
// never needs them, a third of this function's time.
TEXT ·asciiSafe16(SB), NOSPLIT, $0-33
	MOVQ s_base+0(FP), SI
	MOVQ s_len+8(FP), CX
	LEAQ -16(SI)(CX*1), DX // the last sixteen bytes
	BCAST(0x1f1f1f1f1f1f1f1f, X5)
	BCAST(0x2222222222222222, X6) // '"'
	BCAST(0x5c5c5c5c5c5c5c5c, X7) // '\\'
	PCMPEQB X3, X3
	PXOR X0, X0
	CMPB html+24(FP), $0
	JNE  html

plain:
	CMPQ SI, DX
	JAE  plainlast
	MOVOU (SI), X1
	CHECK
	ADDQ $16, SI
	JMP  plain

plainlast:
	MOVOU (DX), X1
	CHECK
	JMP  result

html:
	BCAST(0x3c3c3c3c3c3c3c3c, X8) // '<'
	BCAST(0x3e3e3e3e3e3e3e3e, X9) // '>'
	BCAST(0x2626262626262626, X10) // '&'

htmlloop:
	CMPQ SI, DX
	JAE  htmllast
	MOVOU (SI), X1
	CHECKHTML
	ADDQ $16, SI
	JMP  htmlloop

htmllast:
	MOVOU (DX), X1
	CHECKHTML

result:
	PMOVMSKB X3, AX
	PMOVMSKB X0, BX
	CMPL AX, $0xffff
	JNE  no
	TESTL BX, BX
	JNZ  no
	MOVB $1, ret+32(FP)
	RET

no:
	MOVB $0, ret+32(FP)
	RET

// func copyPlain16(dst *byte, s []byte) bool
//
// asciiSafe16(s, false), and a copy of s to dst in the same pass: each
// sixteen bytes are loaded once, checked and stored. The last step copies
// the final sixteen bytes, overlapping. dst must have room for len(s)
// bytes, 16 or more; what it holds is meaningful only when the result is
// true.
TEXT ·copyPlain16(SB), NOSPLIT, $0-33
	MOVQ dst+0(FP), DI
	MOVQ s_base+8(FP), SI
	MOVQ s_len+16(FP), CX
	LEAQ -16(SI)(CX*1), DX // the last sixteen bytes
	LEAQ -16(DI)(CX*1), R8 // and where they go
	BCAST(0x1f1f1f1f1f1f1f1f, X5)
	BCAST(0x2222222222222222, X6) // '"'
	BCAST(0x5c5c5c5c5c5c5c5c, X7) // '\\'
	PCMPEQB X3, X3
	PXOR X0, X0

copyloop:
	CMPQ SI, DX
	JAE  copylast
	MOVOU (SI), X1
	MOVOU X1, (DI)
	CHECK
	ADDQ $16, SI
	ADDQ $16, DI
	JMP  copyloop

copylast:
	MOVOU (DX), X1
	MOVOU X1, (R8)
	CHECK
	PMOVMSKB X3, AX
	PMOVMSKB X0, BX
	CMPL AX, $0xffff
	JNE  copyno
	TESTL BX, BX
	JNZ  copyno
	MOVB $1, ret+32(FP)
	RET

copyno:
	MOVB $0, ret+32(FP)
	RET
