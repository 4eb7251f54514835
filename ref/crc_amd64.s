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

// func scanDataSSE42(buf []byte) (ts int64, n int)
//
// The read path's check of a data record at the start of buf, in one
// pass: n is the record's length and ts its time, or n is 0 when buf does
// not start with a valid data record, or -1 when its fixed fields are
// valid and buf holds no LF after them. buf holds 48 bytes or more.
//
// The fixed fields are compared eight bytes at a time under a mask, and
// the nineteen time digits sixteen at a time (two overlapping loads) as
// SSE2 unsigned ranges; the time is converted as parseEight does. Then
// each step over the payload CRCs the sixteen bytes at DI, compares them
// with RS, and compares the sixteen one byte further on with LF, so that
// the step which finds the LF at DI+1+k has exactly k payload bytes left
// to CRC, all in the sixteen at DI, whose first k compares with RS count.
// The CRC's latency bounds the loop; the compares, which replaced a
// separate search for the LF, run beside it. Fewer than seventeen bytes
// left go one at a time: the end of a read, not of a record, in all but
// the last record of a buffer. Last, the byte before the LF must be '}'
// and the CRC, as hexEight writes it, the stored one.
TEXT ·scanDataSSE42(SB), NOSPLIT, $0-40
	MOVQ buf_base+0(FP), SI
	MOVQ buf_len+8(FP), CX

	// RS{"t": at 0, ,"c":" at 25 and ","v": at 39, the kind a data record's.
	MOVQ $0x0000ffffffffffff, R8
	MOVQ 0(SI), AX
	ANDQ R8, AX
	MOVQ $0x3a2274227b1e, R9
	CMPQ AX, R9
	JNE  bad
	MOVQ 25(SI), AX
	ANDQ R8, AX
	MOVQ $0x223a2263222c, R9
	CMPQ AX, R9
	JNE  bad
	MOVQ 39(SI), AX
	ANDQ R8, AX
	MOVQ $0x3a2276222c22, R9
	CMPQ AX, R9
	JNE  bad

	// The time digits, bytes 6 to 24: each minus '0' is at most 9.
	MOVQ $0x3030303030303030, R10
	MOVQ R10, X4
	PUNPCKLQDQ X4, X4
	MOVQ $0x0909090909090909, R8
	MOVQ R8, X5
	PUNPCKLQDQ X5, X5
	MOVOU 6(SI), X1
	MOVOU 9(SI), X2
	PSUBB X4, X1
	PSUBB X4, X2
	PMAXUB X5, X1
	PMAXUB X5, X2
	PCMPEQB X5, X1
	PCMPEQB X5, X2
	PAND X2, X1
	PMOVMSKB X1, AX
	CMPL AX, $0xffff
	JNE  bad

	// The time: parseEight of bytes 6-13 and 14-21, then three digits.
	MOVQ $0x000000ff000000ff, R11
	MOVQ $0x000f424000000064, R12 // 100 + 1000000<<32
	MOVQ $0x0000271000000001, R13 // 1 + 10000<<32
	MOVQ 6(SI), R8
	SUBQ R10, R8
	LEAQ (R8)(R8*4), R9
	SHRQ $8, R8
	LEAQ (R8)(R9*2), R8 // v*10 + v>>8
	MOVQ R8, R9
	ANDQ R11, R8
	IMULQ R12, R8
	SHRQ $16, R9
	ANDQ R11, R9
	IMULQ R13, R9
	ADDQ R9, R8
	SHRQ $32, R8
	MOVQ $100000000000, R9
	IMULQ R9, R8 // the first eight digits' part
	MOVQ 14(SI), DX
	SUBQ R10, DX
	LEAQ (DX)(DX*4), R9
	SHRQ $8, DX
	LEAQ (DX)(R9*2), DX
	MOVQ DX, R9
	ANDQ R11, DX
	IMULQ R12, DX
	SHRQ $16, R9
	ANDQ R11, R9
	IMULQ R13, R9
	ADDQ R9, DX
	SHRQ $32, DX
	IMULQ $1000, DX
	ADDQ DX, R8
	MOVBQZX 22(SI), DX
	SUBQ $48, DX
	IMULQ $100, DX
	ADDQ DX, R8
	MOVBQZX 23(SI), DX
	SUBQ $48, DX
	LEAQ (DX)(DX*4), DX
	LEAQ (R8)(DX*2), R8
	MOVBQZX 24(SI), DX
	SUBQ $48, DX
	ADDQ DX, R8
	MOVQ R8, ts+24(FP)

	// The CRC of the time digits and the kind, then the payload's.
	MOVL $0xFFFFFFFF, AX
	CRC32Q 6(SI), AX
	CRC32Q 14(SI), AX
	CRC32W 22(SI), AX
	CRC32B 24(SI), AX
	CRC32B 42(SI), AX
	LEAQ 45(SI), DI
	SUBQ $45, CX
	CMPB (DI), $0x0a
	JEQ  bad // an empty line
	MOVQ $0x0a0a0a0a0a0a0a0a, R8
	MOVQ R8, X13
	PUNPCKLQDQ X13, X13
	MOVQ $0x1e1e1e1e1e1e1e1e, R8
	MOVQ R8, X9
	PUNPCKLQDQ X9, X9
	XORL R12, R12

scan16:
	CMPQ CX, $17
	JB   scan1
	MOVOU 1(DI), X1
	MOVOU (DI), X2
	PCMPEQB X13, X1
	PMOVMSKB X1, R10
	PCMPEQB X9, X2
	PMOVMSKB X2, R8
	TESTL R10, R10
	JNZ  found
	ORL  R8, R12
	CRC32Q (DI), AX
	CRC32Q 8(DI), AX
	ADDQ $16, DI
	SUBQ $16, CX
	JMP  scan16

found:
	BSFL R10, DX // the LF is at DI+1+DX: DX payload bytes left at DI
	MOVQ DX, CX
	MOVL $1, R10
	SHLL CX, R10
	DECL R10
	ANDL R10, R8 // RS among DI .. DI+DX-1, the payload's last bytes
	ORL  R8, R12
	LEAQ 1(DI)(DX*1), BX // the LF
	BTQ  $3, DX
	JNC  found4
	CRC32Q (DI), AX
	ADDQ $8, DI

found4:
	BTQ  $2, DX
	JNC  found2
	CRC32L (DI), AX
	ADDQ $4, DI

found2:
	BTQ $1, DX
	JNC found1
	CRC32W (DI), AX
	ADDQ $2, DI

found1:
	BTQ $0, DX
	JNC check
	CRC32B (DI), AX
	JMP check

scan1: // fewer than seventeen bytes left: is the byte after DI the LF?
	CMPQ CX, $2
	JB   none
	CMPB 1(DI), $0x0a
	JEQ  at1
	CMPB (DI), $0x1e
	SETEQ R10B
	ORB  R10B, R12B
	CRC32B (DI), AX
	INCQ DI
	DECQ CX
	JMP  scan1

at1:
	LEAQ 1(DI), BX // the LF

check:
	// A payload of a byte or more, no RS in it, '}' before the LF.
	LEAQ 47(SI), DX
	CMPQ BX, DX
	JB   bad
	TESTL R12, R12
	JNE  bad
	CMPB -1(BX), $0x7d
	JNE  bad
	// hexEight of the CRC against the stored digits at 31.
	NOTL AX
	MOVL AX, AX
	MOVQ AX, DX
	SHLQ $16, DX
	ORQ  DX, AX
	MOVQ $0x0000ffff0000ffff, R8
	ANDQ R8, AX
	MOVQ AX, DX
	SHLQ $8, DX
	ORQ  DX, AX
	MOVQ $0x00ff00ff00ff00ff, R8
	ANDQ R8, AX
	MOVQ AX, DX
	SHLQ $4, DX
	ORQ  DX, AX
	MOVQ $0x0f0f0f0f0f0f0f0f, R8
	ANDQ R8, AX
	BSWAPQ AX
	MOVQ $0x0606060606060606, R8
	LEAQ (AX)(R8*1), DX
	SHRQ $4, DX
	MOVQ $0x0101010101010101, R8
	ANDQ R8, DX
	IMULQ $39, DX // 'a'-'0'-10 for each letter
	ADDQ DX, AX
	MOVQ $0x3030303030303030, R8
	ADDQ R8, AX
	CMPQ AX, 31(SI)
	JNE  bad
	SUBQ SI, BX
	INCQ BX
	MOVQ BX, n+32(FP)
	RET

bad:
	MOVQ $0, ts+24(FP)
	MOVQ $0, n+32(FP)
	RET

none:
	MOVQ $0, ts+24(FP)
	MOVQ $-1, n+32(FP)
	RET

// ZCHECK folds "a byte of reg is the byte of pat" into R12 (in the top
// bits of its bytes), by the zero-byte test on reg^pat as RSCHECK does;
// padding bytes of a zero-extended load are never pat. R11 holds
// 0x0101..; R10 and DX are clobbered.
#define ZCHECK(reg, pat) \
	MOVQ reg, R10 \
	XORQ pat, R10 \
	MOVQ R10, DX \
	SUBQ R11, DX \
	NOTQ R10 \
	ANDQ R10, DX \
	ORQ  DX, R12

// func frameHeadSSE42(ts *byte, kind byte) uint32
//
// The CRC-32C register after ts[0:19] and kind, from the initial value
// 0xFFFFFFFF and not inverted: where frameCopySSE42 goes on from.
TEXT ·frameHeadSSE42(SB), NOSPLIT, $0-20
	MOVQ ts+0(FP), SI
	MOVL $0xFFFFFFFF, AX
	CRC32Q 0(SI), AX
	CRC32Q 8(SI), AX
	CRC32W 16(SI), AX
	CRC32B 18(SI), AX
	CRC32B kind+8(FP), AX
	MOVL AX, ret+16(FP)
	RET

// func frameCopySSE42(dst *byte, state uint32, payload []byte) (crc uint32, bad bool)
//
// The append path's one pass over a payload of fewer than shortCRC
// bytes: it copies payload to dst, goes on from the CRC register state
// (frameHeadSSE42's) over the payload and returns the record's CRC, and
// says whether the payload holds an LF or an RS (which checkPayload then
// names). Sixteen bytes a step are loaded once, stored, compared with LF
// and RS (SSE2) and CRCed; the last 0 to 15 as 8, 4, 2 and 1. dst must
// have room for len(payload) bytes.
TEXT ·frameCopySSE42(SB), NOSPLIT, $0-45
	MOVQ dst+0(FP), DI
	MOVL state+8(FP), AX
	MOVQ payload_base+16(FP), SI
	MOVQ payload_len+24(FP), CX
	MOVQ $0x0a0a0a0a0a0a0a0a, R13
	MOVQ R13, X13
	PUNPCKLQDQ X13, X13
	MOVQ $0x1e1e1e1e1e1e1e1e, R9
	MOVQ R9, X9
	PUNPCKLQDQ X9, X9
	MOVQ $0x0101010101010101, R11
	XORQ R12, R12
	PXOR X0, X0

copy16:
	CMPQ CX, $16
	JB   copy8
	MOVOU (SI), X1
	MOVOU X1, (DI)
	MOVO X1, X2
	PCMPEQB X13, X1
	PCMPEQB X9, X2
	POR  X1, X0
	POR  X2, X0
	CRC32Q 0(SI), AX
	CRC32Q 8(SI), AX
	ADDQ $16, SI
	ADDQ $16, DI
	SUBQ $16, CX
	JMP  copy16

copy8:
	BTQ $3, CX
	JNC copy4
	MOVQ (SI), R8
	MOVQ R8, (DI)
	CRC32Q R8, AX
	ZCHECK(R8, R13)
	ZCHECK(R8, R9)
	ADDQ $8, SI
	ADDQ $8, DI

copy4:
	BTQ $2, CX
	JNC copy2
	MOVL (SI), R8 // zero-extended
	MOVL R8, (DI)
	CRC32L R8, AX
	ZCHECK(R8, R13)
	ZCHECK(R8, R9)
	ADDQ $4, SI
	ADDQ $4, DI

copy2:
	BTQ $1, CX
	JNC copy1
	MOVWQZX (SI), R8
	MOVW R8, (DI)
	CRC32W R8, AX
	ZCHECK(R8, R13)
	ZCHECK(R8, R9)
	ADDQ $2, SI
	ADDQ $2, DI

copy1:
	BTQ $0, CX
	JNC copied
	MOVBQZX (SI), R8
	MOVB R8, (DI)
	CRC32B R8, AX
	ZCHECK(R8, R13)
	ZCHECK(R8, R9)

copied:
	NOTL AX
	MOVL AX, crc+40(FP)
	PMOVMSKB X0, R8
	MOVQ $0x8080808080808080, R10
	ANDQ R10, R12
	ORQ  R8, R12
	SETNE bad+44(FP)
	RET
