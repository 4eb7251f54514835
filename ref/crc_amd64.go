package ref

import "golang.org/x/sys/cpu"

// haveSSE42 says whether frameCRCSSE42 may run: the CRC32 instruction is
// part of SSE4.2.
var haveSSE42 = cpu.X86.HasSSE42

// frameCRCSSE42 is frameCheck for a time field of tsDigits bytes at ts,
// with the CRC32 instruction, eight bytes at a time; crc_amd64.s.
//
//go:noescape
func frameCRCSSE42(ts *byte, kind byte, payload []byte) (crc uint32, rs bool)

// scanDataSSE42 checks the data record at the start of buf, fixed
// fields, LF, CRC and all, in one pass (crc_amd64.s): its time and
// length, n 0 for anything else, or n -1 when buf, of 48 bytes or more,
// holds valid fixed fields and no LF after them.
//
//go:noescape
func scanDataSSE42(buf []byte) (ts int64, n int)
