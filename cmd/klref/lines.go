package main

import (
	"bufio"
	"bytes"
	"io"
	"time"
)

// lineReader splits its input into lines as bufio.Scanner with ScanLines
// does (an LF ends a line, a CR before it is dropped, and a last line
// needs no LF), in one buffer that keeps a byte free before every line.
// So quote can make a line of plain ASCII a JSON string where it lies:
// its quotes take the place of the byte before it (the LF of the line
// before, already consumed) and of its own LF. klref produce made a copy
// of every line for its quotes, and the producer another.
type lineReader struct {
	r    io.Reader
	buf  []byte
	s, e int // unread bytes are buf[s:e]; buf[s-1] is free
	max  int // the longest line allowed
	err  error

	line     []byte // the current line, buf[start:start+len(line)]
	start    int
	quotable bool // buf[start-1] and buf[start+len(line)] are free
	empty    int  // reads in a row that returned nothing
	// readAt is when the last read that returned bytes returned, in ns
	// since the epoch: when the lines it completed were there to read.
	readAt int64
}

// newLineReader reads lines from r; one of more than max bytes before
// its LF is an error, bufio.ErrTooLong.
func newLineReader(r io.Reader, max int) *lineReader {
	return &lineReader{r: r, buf: make([]byte, 64<<10), s: 1, e: 1, max: max}
}

// next advances to the next line and tells whether there is one; after
// false, err says why (nil at the end of the input).
func (l *lineReader) next() bool {
	for {
		i := bytes.IndexByte(l.buf[l.s:l.e], '\n')
		if i > l.max || (i < 0 && l.e-l.s > l.max) {
			l.err = bufio.ErrTooLong
			return false
		}
		if i >= 0 {
			end := l.s + i
			l.line, l.start, l.quotable = l.buf[l.s:end], l.s, true
			if end > l.s && l.buf[end-1] == '\r' {
				l.line, l.quotable = l.line[:len(l.line)-1], false
			}
			l.s = end + 1
			return true
		}
		if l.err != nil && l.err != bufio.ErrTooLong {
			if l.e > l.s { // a last line without LF
				l.line, l.start, l.quotable = l.buf[l.s:l.e], l.s, false
				if l.line[len(l.line)-1] == '\r' {
					l.line = l.line[:len(l.line)-1]
				}
				l.s = l.e
				return true
			}
			if l.err == io.EOF {
				l.err = nil
			}
			return false
		}
		// Keep the partial line, with its free byte, at the start.
		n := copy(l.buf[1:], l.buf[l.s:l.e])
		l.s, l.e = 1, 1+n
		if l.e == len(l.buf) {
			l.buf = append(l.buf, make([]byte, len(l.buf))...)
		}
		m, err := l.r.Read(l.buf[l.e:])
		if m > 0 {
			l.readAt = time.Now().UnixNano()
		}
		l.e += m
		if err != nil {
			l.err = err
		} else if m == 0 {
			if l.empty++; l.empty == 100 {
				l.err = io.ErrNoProgress
			}
		} else {
			l.empty = 0
		}
	}
}

// quote returns the current line as a JSON string, made in place, when
// it can be (the line is known to need no escapes, and ends in an LF
// alone); otherwise ok is false and the line is as it was.
func (l *lineReader) quote() (s []byte, ok bool) {
	if !l.quotable || !knownHTMLSafe(l.line) {
		return nil, false
	}
	s = l.buf[l.start-1 : l.start+len(l.line)+1]
	s[0], s[len(s)-1] = '"', '"'
	l.quotable = false
	return s, true
}
