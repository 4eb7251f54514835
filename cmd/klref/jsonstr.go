package main

import (
	"bytes"
	"encoding/binary"
	"unicode/utf16"
	"unicode/utf8"
)

// The JSON string codec of produce and consume, by hand: json.Marshal and
// json.Unmarshal per line cost more than the append syscall or the read of
// the record. Both functions give byte for byte what encoding/json gives
// (the tests compare them on a corpus and by fuzzing), so stored records
// and printed lines are what they were with encoding/json.

const hexDigits = "0123456789abcdef"

// htmlSafe[b] is true for the ASCII bytes json.Marshal copies as they are:
// printable ASCII and DEL, except '"', '\\' and the HTML characters '<',
// '>' and '&', which it escapes.
var htmlSafe = func() (t [utf8.RuneSelf]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = true
	}
	for _, b := range `"\<>&` {
		t[b] = false
	}
	return t
}()

// appendJSONString appends s as a JSON string to dst, exactly as
// json.Marshal(string(s)) writes it: '"', '\\' and control characters
// escaped, '<', '>', '&', U+2028 and U+2029 as \u escapes, and each byte of
// invalid UTF-8 as \ufffd.
func appendJSONString(dst, s []byte) []byte {
	dst = append(dst, '"')
	if knownHTMLSafe(s) {
		// The common case, a line of printable ASCII, checked sixteen
		// bytes at a time: a tenth of klref produce's time went to the
		// loop below.
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i := 0; i < len(s); {
		// Skip what needs no escaping, 16 and then 8 bytes at a time.
		for i+16 <= len(s) && htmlUnsafe(binary.LittleEndian.Uint64(s[i:]))|htmlUnsafe(binary.LittleEndian.Uint64(s[i+8:])) == 0 {
			i += 16
		}
		if i+8 <= len(s) && htmlUnsafe(binary.LittleEndian.Uint64(s[i:])) == 0 {
			i += 8
			continue
		}
		if i == len(s) {
			break
		}
		b := s[i]
		if b < utf8.RuneSelf {
			if htmlSafe[b] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control characters, '<', '>', '&'
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// htmlUnsafe is zero when all eight bytes of x are htmlSafe.
func htmlUnsafe(x uint64) uint64 {
	// Below 0x20 or from 0x80 on (see scanBytes).
	m := (x-ones*0x20)&^x | x
	// Equal to a byte: ones*c matches c, and setting one bit first folds a
	// pair into one test: '"' 0x22 and '&' 0x26 differ in 0x04 only, '<'
	// 0x3c and '>' 0x3e in 0x02 only.
	q := (x | ones*0x04) ^ (ones * '&')
	a := (x | ones*0x02) ^ (ones * '>')
	b := x ^ (ones * '\\')
	return (m | (q-ones)&^q | (a-ones)&^a | (b-ones)&^b) & highs
}

// unquoteJSON decodes v, a JSON text that starts with '"', into the bytes
// json.Unmarshal would put in a string. When v holds no escape and no
// invalid UTF-8, the result is a slice of v (no copy); otherwise it is written to
// *scratch, which is reused and grown. ok is false when json.Unmarshal would fail: a control
// character, a bad escape, an unterminated string, or anything but
// whitespace after it.
func unquoteJSON(v []byte, scratch *[]byte) (s []byte, ok bool) {
	if len(v) < 2 || v[0] != '"' {
		return nil, false
	}
	// The common case, as klref produce stores lines: a quoted run of
	// printable ASCII with no escape, checked in one pass.
	if n := len(v); v[n-1] == '"' && plainASCII(v[1:n-1]) {
		return v[1 : n-1], true
	}
	// The fast path: a string with no escape, of valid UTF-8, is its
	// content as it is. The searches run many bytes at a time.
	if end := bytes.IndexByte(v[1:], '"'); end >= 0 {
		s := v[1 : 1+end]
		if bytes.IndexByte(s, '\\') < 0 {
			ctl, high := scanBytes(s)
			if !ctl && (!high || utf8.Valid(s)) {
				if !onlySpace(v[2+end:]) {
					return nil, false
				}
				return s, true
			}
		}
	}
	// The slow path: escapes, invalid UTF-8 (each byte becomes U+FFFD, as
	// encoding/json does), or an error.
	b := (*scratch)[:0]
	i := 1
	defer func() { *scratch = b[:0] }()
	for i < len(v) {
		c := v[i]
		switch {
		case c == '"':
			if !onlySpace(v[i+1:]) {
				return nil, false
			}
			return b, true
		case c < 0x20:
			return nil, false
		case c == '\\':
			if i+1 >= len(v) {
				return nil, false
			}
			switch e := v[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := getu4(v[i:])
				if r < 0 {
					return nil, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// A pair makes one rune; anything else is U+FFFD, and
					// what follows is decoded on its own.
					if r2 := getu4(v[i:]); r2 >= 0 {
						if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
							i += 6
							b = utf8.AppendRune(b, d)
							continue
						}
					}
					r = utf8.RuneError
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				return nil, false
			}
			i += 2
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(v[i:])
			b = utf8.AppendRune(b, r)
			i += size
		}
	}
	return nil, false // no closing quote
}

// Eight bytes at a time: ones*c is c in every byte of a word.
const (
	ones  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainASCIIWords is plainASCII eight bytes at a time, for short
// strings and for CPUs without the assembly version. Sixteen bytes at a
// time: for a word x whose bytes are all below 0x80 (x's own top bits
// say), a byte of x-0x20.. has its top bit set exactly when it is below
// 0x20, and one of (x^c)-0x01.. exactly when it equals c, except where a
// borrow comes from such a byte below it, which is bad anyway. The last
// eight bytes are loaded as one word that may overlap words already
// checked, so there is no byte-at-a-time tail: in the byte loop the tail
// of a 100-byte value took as long as the words before it.
func plainASCIIWords(s []byte) bool {
	const q, bs = ones * '"', ones * '\\'
	bad := func(x uint64) uint64 { return x | (x - ones*0x20) | ((x ^ q) - ones) | ((x ^ bs) - ones) }
	if len(s) < 8 {
		for _, c := range s {
			if c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
				return false
			}
		}
		return true
	}
	acc := bad(binary.LittleEndian.Uint64(s[len(s)-8:]))
	for len(s) >= 16 {
		acc |= bad(binary.LittleEndian.Uint64(s)) | bad(binary.LittleEndian.Uint64(s[8:]))
		s = s[16:]
	}
	if len(s) >= 8 {
		acc |= bad(binary.LittleEndian.Uint64(s))
	}
	return acc&highs == 0
}

// scanBytes says whether s holds a control character (below 0x20) and
// whether it holds a byte of non-ASCII UTF-8 (0x80 or above).
func scanBytes(s []byte) (ctl, high bool) {
	var c, h uint64
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := binary.LittleEndian.Uint64(s[i:])
		// A byte below 0x20 borrows in x-0x20 and has its top bit clear;
		// borrows only start at such a byte, so c is exact as a zero test.
		c |= (x - ones*0x20) &^ x
		h |= x
	}
	for ; i < len(s); i++ {
		c |= uint64(s[i]-0x20) &^ uint64(s[i]) & 0x80
		h |= uint64(s[i])
	}
	return c&highs != 0, h&highs != 0
}

// getu4 decodes \uXXXX at the start of s, or returns -1.
func getu4(s []byte) rune {
	if len(s) < 6 || s[0] != '\\' || s[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range s[2:6] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			c = c - 'A' + 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
}

// onlySpace says whether s is JSON whitespace only.
func onlySpace(s []byte) bool {
	for _, c := range s {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return false
		}
	}
	return true
}
