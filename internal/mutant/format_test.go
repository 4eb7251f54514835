package mutant

import (
	"strings"
	"testing"
)

// TestParseAck: an ack line is whole and its checksum holds, and what a
// power loss left in front of it (zeros, the head of a torn ack) does not
// hide it.
func TestParseAck(t *testing.T) {
	good := string(encodeAck(42))
	for _, tc := range []struct {
		name string
		line string
		off  int64
		ok   bool
	}{
		{"whole", good, 42, true},
		{"after zeros", strings.Repeat("\x00", 300) + good, 42, true},
		{"after a torn ack", string(encodeAck(41))[:4] + good, 42, true},
		{"torn", good[:len(good)-3] + "\n", 0, false},
		{"no newline", good[:len(good)-1], 0, false},
		{"bad checksum", strings.Replace(good, "42", "43", 1), 0, false},
		{"zeros only", strings.Repeat("\x00", 10) + "\n", 0, false},
		{"empty", "", 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			off, ok := parseAck([]byte(tc.line))
			if ok != tc.ok || off != tc.off {
				t.Errorf("parseAck(%q) = %d, %v; want %d, %v", tc.line, off, ok, tc.off, tc.ok)
			}
		})
	}
}
