//go:build !amd64

package main

// plainASCII says whether s holds only printable ASCII other than '"' and
// '\\': a JSON string body that decodes to itself.
func plainASCII(s []byte) bool { return plainASCIIWords(s) }

// knownHTMLSafe is false off amd64: appendJSONString checks every string
// itself.
func knownHTMLSafe(s []byte) bool { return false }
