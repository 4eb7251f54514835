//go:build !amd64

package ref

import "unsafe"

// haveSSE42 is false off amd64: frameCRC always takes hash/crc32's path.
const haveSSE42 = false

// frameCRCSSE42 exists only so that frameCRC compiles everywhere; off
// amd64 haveSSE42 keeps it from being called, and it is the generic CRC.
func frameCRCSSE42(ts *byte, kind byte, payload []byte) (crc uint32, rs bool) {
	return frameCheckGeneric(unsafe.Slice(ts, tsDigits), kind, payload)
}

// scanDataSSE42 exists only so that wholeData compiles everywhere; off
// amd64 haveSSE42 keeps it from being called.
func scanDataSSE42(buf []byte) (ts int64, n int) { return wholeDataLong(buf) }

// frameHeadSSE42 and frameCopySSE42 exist only so that
// appendFrameChecked compiles everywhere; off amd64 haveSSE42 keeps them
// from being called.
func frameHeadSSE42(ts *byte, kind byte) uint32 { return 0 }

func frameCopySSE42(dst *byte, state uint32, payload []byte) (crc uint32, bad bool) {
	return 0, true
}
