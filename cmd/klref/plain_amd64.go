package main

import "slices"

// asciiSafe16 says whether s, 16 bytes or more, holds only printable
// ASCII other than '"' and '\\' and, with html, other than '<', '>' and
// '&' too; in SSE2, plain_amd64.s. On the read path it took half the time
// of the eight-byte word version.
//
//go:noescape
func asciiSafe16(s []byte, html bool) bool

// plainASCII says whether s holds only printable ASCII other than '"' and
// '\\': a JSON string body that decodes to itself.
func plainASCII(s []byte) bool {
	if len(s) >= 16 {
		return asciiSafe16(s, false)
	}
	return plainASCIIWords(s)
}

// knownHTMLSafe says whether s is known to need no escaping in a JSON
// string: true only when every byte is htmlSafe, and false for strings
// too short to check at once, which appendJSONString then checks itself.
func knownHTMLSafe(s []byte) bool { return len(s) >= 16 && asciiSafe16(s, true) }

// copyPlain16 copies s, 16 bytes or more, to dst and says whether it is
// plainASCII, in one pass (plain_amd64.s): klref consume's printer copied
// each value after checking it, two passes over every byte it prints.
//
//go:noescape
func copyPlain16(dst *byte, s []byte) bool

// appendPlain appends s to dst when s is plainASCII and says whether it
// did; otherwise dst is returned as it was.
func appendPlain(dst, s []byte) ([]byte, bool) {
	if len(s) < 16 {
		if !plainASCIIWords(s) {
			return dst, false
		}
		return append(dst, s...), true
	}
	n := len(dst)
	dst = slices.Grow(dst, len(s))
	if !copyPlain16(&dst[:n+1][n], s) {
		return dst[:n], false
	}
	return dst[:n+len(s)], true
}
