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

// frameHeadSSE42 is the CRC-32C register, not inverted, after ts[0:19]
// and kind: a record's CRC so far when its payload begins (crc_amd64.s).
//
//go:noescape
func frameHeadSSE42(ts *byte, kind byte) uint32

// frameCopySSE42 copies a payload of fewer than shortCRC bytes to dst and
// checksums and checks it in the same pass (crc_amd64.s): the record's
// CRC-32C, going on from state (frameHeadSSE42's), and whether the
// payload holds an LF or RS.
//
//go:noescape
func frameCopySSE42(dst *byte, state uint32, payload []byte) (crc uint32, bad bool)
