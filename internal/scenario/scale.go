package scenario

import (
	"math"
	"slices"
)

// Clone returns a deep copy of s.
func (s *Scenario) Clone() *Scenario {
	c := *s
	c.Producers = slices.Clone(s.Producers)
	for i := range c.Producers {
		c.Producers[i].Size.List = slices.Clone(c.Producers[i].Size.List)
	}
	c.Consumers = slices.Clone(s.Consumers)
	c.Faults = slices.Clone(s.Faults)
	c.Checks = slices.Clone(s.Checks)
	c.Histograms = slices.Clone(s.Histograms)
	return &c
}

// Scaled returns a copy of s for a run: unchanged when quick is false;
// under --quick, every producer group's Messages multiplied by Quick.Scale
// (rounded, at least 1, and Batch lowered to it if needed), and every
// fault's MaxFaults capped by Quick.MaxFaults when that is set (an unbounded
// fault gets exactly Quick.MaxFaults).
func (s *Scenario) Scaled(quick bool) *Scenario {
	c := s.Clone()
	if !quick {
		return c
	}
	scale := c.Quick.Scale
	if scale <= 0 {
		scale = DefaultQuickScale
	}
	for i := range c.Producers {
		g := &c.Producers[i]
		g.Messages = max(1, int(math.Round(float64(g.Messages)*scale)))
		g.Batch = min(g.Batch, g.Messages)
	}
	if m := c.Quick.MaxFaults; m > 0 {
		for i := range c.Faults {
			f := &c.Faults[i]
			if f.Kind != FaultRlimit && (f.MaxFaults == 0 || f.MaxFaults > m) {
				f.MaxFaults = m
			}
		}
	}
	return c
}
