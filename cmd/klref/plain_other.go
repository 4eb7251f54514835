//go:build !amd64

package main

// plainASCII says whether s holds only printable ASCII other than '"' and
// '\\': a JSON string body that decodes to itself.
func plainASCII(s []byte) bool { return plainASCIIWords(s) }

// knownHTMLSafe is false off amd64: appendJSONString checks every string
// itself.
func knownHTMLSafe(s []byte) bool { return false }

// appendPlain appends s to dst when s is plainASCII and says whether it
// did; otherwise dst is returned as it was.
func appendPlain(dst, s []byte) ([]byte, bool) {
	if !plainASCIIWords(s) {
		return dst, false
	}
	return append(dst, s...), true
}
