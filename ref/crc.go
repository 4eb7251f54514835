package ref

import (
	"bytes"
	"hash/crc32"
	"sync"
)

// A record's CRC is the CRC-32C (Castagnoli) of its 19 time digits, its
// kind byte and its payload, in that order: crc32.Checksum of their
// concatenation with the Castagnoli table.
//
// Most records are short (the seed's are 100 bytes), and for them the cost
// of hash/crc32 is not the CRC instruction but its set-up: two Update
// calls per record through three layers each, and, once per process,
// crc32.MakeTable(crc32.Castagnoli), which on amd64 computes its 8 KiB of
// tables for long inputs in about 0.3 ms, a fiftieth of a `klref consume`
// of 100k records. So on amd64 with SSE4.2 a record whose payload is under
// shortCRC bytes is checksummed by frameCRCSSE42 (crc_amd64.s) in one
// call, and the table is made only when a longer payload, or another
// architecture, needs it.

// shortCRC is the payload size from which hash/crc32's three-way
// interleaved CRC (used from 504 bytes up) beats one CRC32 instruction
// stream.
const shortCRC = 512

// castagnoliTable is made on first use, not at package init.
var castagnoliTable = sync.OnceValue(func() *crc32.Table { return crc32.MakeTable(crc32.Castagnoli) })

// frameCRC is the CRC-32C of the time digits ts (tsDigits bytes), the kind
// byte and the payload. The append path calls it after checkPayload has
// searched the payload for RS, so it searches for none itself.
func frameCRC(ts []byte, kind byte, payload []byte) uint32 {
	if haveSSE42 && len(payload) < shortCRC && len(ts) == tsDigits {
		crc, _ := frameCRCSSE42(&ts[0], kind, payload)
		return crc
	}
	return frameCRCGeneric(ts, kind, payload)
}

// frameCheck is frameCRC, and whether the payload holds an RS byte (which
// no record may): the reader's one pass over the payload, where a second
// search for RS cost a tenth of a read.
func frameCheck(ts []byte, kind byte, payload []byte) (crc uint32, rs bool) {
	if haveSSE42 && len(payload) < shortCRC && len(ts) == tsDigits {
		return frameCRCSSE42(&ts[0], kind, payload)
	}
	return frameCheckGeneric(ts, kind, payload)
}

// frameCheckGeneric is frameCheck through hash/crc32 and bytes.IndexByte.
func frameCheckGeneric(ts []byte, kind byte, payload []byte) (crc uint32, rs bool) {
	return frameCRCGeneric(ts, kind, payload), bytes.IndexByte(payload, recordStart) >= 0
}

// frameCRCGeneric is frameCRC through hash/crc32. The single kind byte is
// folded in with a table lookup: a third crc32.Update call for one byte
// cost more than the lookup on the read path.
func frameCRCGeneric(ts []byte, kind byte, payload []byte) uint32 {
	tab := castagnoliTable()
	crc := ^crc32.Update(0, tab, ts)
	crc = tab[byte(crc)^kind] ^ (crc >> 8)
	return crc32.Update(^crc, tab, payload)
}
