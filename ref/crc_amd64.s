#include "textflag.h"

// func frameCRCSSE42(ts *byte, kind byte, payload []byte) uint32
//
// The CRC-32C of ts[0:19], kind and payload: the initial value
// 0xFFFFFFFF, the CRC32 instruction over 8, 8, 2 and 1 bytes of the
// time digits, 1 for the kind byte, then the payload 8 bytes at a time
// with unaligned loads (as fast as aligned ones on every CPU with SSE4.2)
// and its last 0 to 7 bytes as 4, 2 and 1, and the result inverted.
TEXT ·frameCRCSSE42(SB), NOSPLIT, $0-44
	MOVQ ts+0(FP), SI
	MOVQ payload_base+16(FP), DI
	MOVQ payload_len+24(FP), CX
	MOVL $0xFFFFFFFF, AX

	CRC32Q 0(SI), AX
	CRC32Q 8(SI), AX
	CRC32W 16(SI), AX
	CRC32B 18(SI), AX
	CRC32B kind+8(FP), AX

loop8:
	CMPQ CX, $8
	JB   tail
	CRC32Q (DI), AX
	ADDQ $8, DI
	SUBQ $8, CX
	JMP  loop8

tail:
	BTQ $2, CX
	JNC tail2
	CRC32L (DI), AX
	ADDQ $4, DI

tail2:
	BTQ $1, CX
	JNC tail1
	CRC32W (DI), AX
	ADDQ $2, DI

tail1:
	BTQ $0, CX
	JNC done
	CRC32B (DI), AX

done:
	NOTL AX
	MOVL AX, ret+40(FP)
	RET
