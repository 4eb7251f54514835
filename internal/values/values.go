// Package values makes and verifies the message values klcheck appends.
//
// A value is printable ASCII: the producer's client name, a sequence
// number, a CRC-32C checksum in hex, and padding up to the requested size:
//
//	p3.2:000017:3f1c09aa:ghijklmnopqrstuv…
//
// The checksum covers everything after it (the padding) and the header before
// it, so a torn, merged or corrupted value fails Parse. The padding is
// derived from the producer and sequence number, so two values are equal only
// when they are the same message.
package values

import (
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Make returns the value for message seq of producer, padded to size bytes
// (values are never shorter than their header, about 20 bytes). producer must
// not contain ':'.
func Make(producer string, seq int64, size int) string {
	head := fmt.Sprintf("%s:%06d:", producer, seq)
	padLen := size - len(head) - 9
	if padLen < 0 {
		padLen = 0
	}
	var b strings.Builder
	b.Grow(len(head) + 9 + padLen)
	pad := make([]byte, padLen)
	start := int(uint64(seq)*7+uint64(len(producer))) % len(alphabet)
	for i := range pad {
		pad[i] = alphabet[(start+i)%len(alphabet)]
	}
	sum := crc32.Update(crc32.Checksum([]byte(head), castagnoli), castagnoli, pad)
	b.WriteString(head)
	fmt.Fprintf(&b, "%08x:", sum)
	b.Write(pad)
	return b.String()
}

// ID names one message: its producer and sequence number.
type ID struct {
	Producer string
	Seq      int64
}

func (id ID) String() string { return fmt.Sprintf("%s#%d", id.Producer, id.Seq) }

// ErrMalformed is returned by Parse for a value that is not whole.
var ErrMalformed = errors.New("malformed value")

// Parse checks v's checksum and returns its ID. A torn, merged or corrupted
// value returns an error wrapping ErrMalformed.
func Parse(v string) (ID, error) {
	i := strings.IndexByte(v, ':')
	if i <= 0 {
		return ID{}, fmt.Errorf("%w: no producer", ErrMalformed)
	}
	j := strings.IndexByte(v[i+1:], ':')
	if j < 0 {
		return ID{}, fmt.Errorf("%w: no sequence number", ErrMalformed)
	}
	j += i + 1
	seq, err := strconv.ParseInt(v[i+1:j], 10, 64)
	if err != nil {
		return ID{}, fmt.Errorf("%w: sequence number: %v", ErrMalformed, err)
	}
	if len(v) < j+10 || v[j+9] != ':' {
		return ID{}, fmt.Errorf("%w: no checksum", ErrMalformed)
	}
	want, err := strconv.ParseUint(v[j+1:j+9], 16, 32)
	if err != nil {
		return ID{}, fmt.Errorf("%w: checksum: %v", ErrMalformed, err)
	}
	sum := crc32.Update(crc32.Checksum([]byte(v[:j+1]), castagnoli), castagnoli, []byte(v[j+10:]))
	if uint32(want) != sum {
		return ID{}, fmt.Errorf("%w: checksum %08x, computed %08x", ErrMalformed, want, sum)
	}
	return ID{Producer: v[:i], Seq: seq}, nil
}
