package main

// plainASCII16 is plainASCII for 16 bytes or more, in SSE2;
// plain_amd64.s. On the read path it took half the time of the eight-byte
// word version.
//
//go:noescape
func plainASCII16(s []byte) bool

// htmlSafe16 says whether every byte of s, 16 bytes or more, is
// htmlSafe; plain_amd64.s.
//
//go:noescape
func htmlSafe16(s []byte) bool

// plainASCII says whether s holds only printable ASCII other than '"' and
// '\\': a JSON string body that decodes to itself.
func plainASCII(s []byte) bool {
	if len(s) >= 16 {
		return plainASCII16(s)
	}
	return plainASCIIWords(s)
}

// knownHTMLSafe says whether s is known to need no escaping in a JSON
// string: true only when every byte is htmlSafe, and false for strings
// too short to check at once, which appendJSONString then checks itself.
func knownHTMLSafe(s []byte) bool { return len(s) >= 16 && htmlSafe16(s) }
