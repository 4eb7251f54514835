package main

// plainASCII16 is plainASCII for 16 bytes or more, in SSE2;
// plain_amd64.s. On the read path it took half the time of the eight-byte
// word version.
//
//go:noescape
func plainASCII16(s []byte) bool

// plainASCII says whether s holds only printable ASCII other than '"' and
// '\\': a JSON string body that decodes to itself.
func plainASCII(s []byte) bool {
	if len(s) >= 16 {
		return plainASCII16(s)
	}
	return plainASCIIWords(s)
}
