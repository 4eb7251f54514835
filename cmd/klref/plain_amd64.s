#include "textflag.h"

// func plainASCII16(s []byte) bool
//
// plainASCII for len(s) >= 16, sixteen bytes per step with SSE2 (which
// every amd64 CPU has): a byte is good when it is above 0x1F as a signed
// byte (so 0x20-0x7F) and is neither '"' nor '\\'. The last step loads
// the final sixteen bytes, overlapping bytes already checked.
TEXT ·plainASCII16(SB), NOSPLIT, $0-25
	MOVQ s_base+0(FP), SI
	MOVQ s_len+8(FP), CX
	LEAQ -16(SI)(CX*1), DX // the last sixteen bytes

	MOVQ $0x1f1f1f1f1f1f1f1f, AX
	MOVQ AX, X5
	PUNPCKLQDQ X5, X5
	MOVQ $0x2222222222222222, AX // '"'
	MOVQ AX, X6
	PUNPCKLQDQ X6, X6
	MOVQ $0x5c5c5c5c5c5c5c5c, AX // '\\'
	MOVQ AX, X7
	PUNPCKLQDQ X7, X7
	PCMPEQB X3, X3 // good: all ones
	PXOR X0, X0    // bad: none

loop:
	CMPQ SI, DX
	JAE  last
	MOVOU (SI), X1
	MOVO X1, X2
	PCMPGTB X5, X2
	PAND X2, X3
	MOVO X1, X2
	PCMPEQB X6, X2
	POR X2, X0
	PCMPEQB X7, X1
	POR X1, X0
	ADDQ $16, SI
	JMP  loop

last:
	MOVOU (DX), X1
	MOVO X1, X2
	PCMPGTB X5, X2
	PAND X2, X3
	MOVO X1, X2
	PCMPEQB X6, X2
	POR X2, X0
	PCMPEQB X7, X1
	POR X1, X0

	PMOVMSKB X3, AX
	PMOVMSKB X0, BX
	CMPL AX, $0xffff
	JNE  no
	TESTL BX, BX
	JNZ  no
	MOVB $1, ret+24(FP)
	RET

no:
	MOVB $0, ret+24(FP)
	RET
