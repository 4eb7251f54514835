package check

import (
	"math"

	"github.com/kafka-lite/kafka-lite/internal/history"
	"github.com/kafka-lite/kafka-lite/internal/protocol"
)

// ackPosition is what a group's position may be when a consumer session
// starts at time t. An ack takes effect at some moment between its invoke
// and its completion, and the position is the last ack to take effect, as
// the protocol says ("a consumer started later with start acked begins
// after that offset"), whatever its offset.
type ackPosition struct {
	// last is the ok ack that completed last before t, -1 if none: the
	// position if no ack overlapped it.
	last int
	// cands are the acks that may be the last to have taken effect before
	// t: every ack invoked before t that is not certainly superseded by an
	// ok ack invoked after it completed and completed before t. last is
	// among them.
	cands []int
}

// ackPositionAt works out the position of a group at time t from its acks
// (ok and indeterminate, any order).
func (ix *index) ackPositionAt(acks []int, t int64) ackPosition {
	pos := ackPosition{last: -1}
	maxInvoke := int64(math.MinInt64) // latest invoke of an ok ack completed before t
	for _, p := range acks {
		a := &ix.h[p]
		if a.Outcome == history.OK && a.Complete < t {
			if pos.last < 0 || a.Complete > ix.h[pos.last].Complete {
				pos.last = p
			}
			maxInvoke = max(maxInvoke, a.Invoke)
		}
	}
	for _, p := range acks {
		if a := &ix.h[p]; a.Invoke < t && a.Complete >= maxInvoke {
			pos.cands = append(pos.cands, p)
		}
	}
	return pos
}

// groupAcks returns each group's acks that may have taken effect (ok and
// indeterminate ones with an offset).
func (ix *index) groupAcks() map[string][]int {
	out := map[string][]int{}
	for _, p := range ix.acks {
		if ix.h[p].Outcome == history.Fail {
			continue
		}
		g := ix.groupOf(p)
		out[g] = append(out[g], p)
	}
	return out
}

// startsFromAcks tells whether a session resumed from its group's acks.
func startsFromAcks(s *session) bool {
	return s.start == protocol.StartAcked || s.start == ""
}
