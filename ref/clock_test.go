package ref

import (
	"testing"
	"time"
)

// TestWallClock: the producer's one-read clock agrees with time.Now, is
// monotonic between anchors, and takes a new anchor once the old one is a
// second old (so a step of the wall clock shows within a second).
func TestWallClock(t *testing.T) {
	var w wallClock
	prev := int64(0)
	for range 1000 {
		before := time.Now().UnixNano()
		got := w.now()
		after := time.Now().UnixNano()
		if got < before-int64(time.Millisecond) || got > after+int64(time.Millisecond) {
			t.Fatalf("now() = %d, outside [%d, %d]", got, before, after)
		}
		if got < prev {
			t.Fatalf("now() went back: %d after %d", got, prev)
		}
		prev = got
	}
	// As if the wall clock had been stepped back an hour at the anchor.
	w.anchor = w.anchor.Add(-2 * time.Second)
	w.wall -= int64(time.Hour)
	if got, now := w.now(), time.Now().UnixNano(); got < now-int64(time.Millisecond) {
		t.Fatalf("an anchor 2 s old was kept: now() = %d, time.Now %d", got, now)
	}
}
