#include "textflag.h"

// RSCHECK folds "a byte of reg is RS (0x1E)" into R12, by the exact
// zero-byte test on reg^0x1E1E..: (t-0x0101..) &^ t has a byte's top bit
// set for some byte exactly when some byte of t is zero. A value shorter
// than eight bytes is zero-extended, and its padding bytes become 0x1E,
// never zero. R9 holds 0x1E1E.., R11 0x0101..; reg and R10 are clobbered.
// It runs beside the CRC32 instruction, whose three-cycle latency leaves
// the other ports free.
#define RSCHECK(reg) \
	XORQ R9, reg \
	MOVQ reg, R10 \
	SUBQ R11, R10 \
	NOTQ reg \
	ANDQ reg, R10 \
	ORQ  R10, R12

// func frameCRCSSE42(ts *byte, kind byte, payload []byte) (crc uint32, rs bool)
//
// The CRC-32C of ts[0:19], kind and payload, and whether the payload
// holds an RS byte: the initial value 0xFFFFFFFF, the CRC32 instruction
// over 8, 8, 2 and 1 bytes of the time digits, 1 for the kind byte, then
// the payload 8 bytes at a time with unaligned loads (as fast as aligned
// ones on every CPU with SSE4.2) and its last 0 to 7 bytes as 4, 2 and 1,
// and the result inverted.
TEXT ·frameCRCSSE42(SB), NOSPLIT, $0-45
	MOVQ ts+0(FP), SI
	MOVQ payload_base+16(FP), DI
	MOVQ payload_len+24(FP), CX
	MOVL $0xFFFFFFFF, AX
	MOVQ $0x1e1e1e1e1e1e1e1e, R9
	MOVQ $0x0101010101010101, R11
	XORQ R12, R12

	CRC32Q 0(SI), AX
	CRC32Q 8(SI), AX
	CRC32W 16(SI), AX
	CRC32B 18(SI), AX
	CRC32B kind+8(FP), AX

loop8:
	CMPQ CX, $8
	JB   tail
	CRC32Q (DI), AX
	MOVQ (DI), R8
	RSCHECK(R8)
	ADDQ $8, DI
	SUBQ $8, CX
	JMP  loop8

tail:
	BTQ $2, CX
	JNC tail2
	CRC32L (DI), AX
	MOVL (DI), R8 // zero-extended
	RSCHECK(R8)
	ADDQ $4, DI

tail2:
	BTQ $1, CX
	JNC tail1
	CRC32W (DI), AX
	MOVWQZX (DI), R8
	RSCHECK(R8)
	ADDQ $2, DI

tail1:
	BTQ $0, CX
	JNC done
	CRC32B (DI), AX
	MOVBQZX (DI), R8
	RSCHECK(R8)

done:
	NOTL AX
	MOVL AX, crc+40(FP)
	MOVQ $0x8080808080808080, R10
	TESTQ R10, R12
	SETNE rs+44(FP)
	RET
