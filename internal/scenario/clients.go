package scenario

import (
	"math/rand/v2"
	"strconv"
)

// clientName is the name of client i (0-based) of a group with prefix.
func clientName(prefix string, i int) string { return prefix + strconv.Itoa(i+1) }

// ClientName returns the name of the group's client i (0-based): Name+"1"
// for i = 0, up to Name+strconv.Itoa(Count).
func (g ProducerGroup) ClientName(i int) string { return clientName(g.Name, i) }

// ClientName returns the name of the group's client i (0-based): Name+"1"
// for i = 0, up to Name+strconv.Itoa(Count).
func (g ConsumerGroup) ClientName(i int) string { return clientName(g.Name, i) }

// ProducerNames returns the names of every producer client, group by group
// in file order: p1..pN of the first group, then the next group's.
func (s *Scenario) ProducerNames() []string {
	var names []string
	for _, g := range s.Producers {
		for i := range g.Count {
			names = append(names, g.ClientName(i))
		}
	}
	return names
}

// ConsumerNames returns the names of every consumer client, group by group
// in file order: c1..cN of the first group, then the next group's.
func (s *Scenario) ConsumerNames() []string {
	var names []string
	for _, g := range s.Consumers {
		for i := range g.Count {
			names = append(names, g.ClientName(i))
		}
	}
	return names
}

// SizeFor returns the size of the next value of the group's producer
// producerIndex (0-based): Fixed; List[producerIndex % len(List)]; or, for a
// Range, uniform in [min, max] drawn from rng, which must then be non-nil
// (the minimum is returned without an rng).
func (g ProducerGroup) SizeFor(producerIndex int, rng *rand.Rand) int {
	z := g.Size
	switch {
	case z.Fixed != 0:
		return z.Fixed
	case len(z.List) > 0:
		i := producerIndex % len(z.List)
		if i < 0 {
			i += len(z.List)
		}
		return z.List[i]
	case z.Range[1] > z.Range[0] && rng != nil:
		return z.Range[0] + rng.IntN(z.Range[1]-z.Range[0]+1)
	default:
		return z.Range[0]
	}
}

// GroupFor returns the consumer group of the group's client i (0-based):
// Group, or with GroupPerClient Group+"-"+the client's number (i+1, the
// number in its name), so c1 of group "g" reads as "g-1".
func (g ConsumerGroup) GroupFor(i int) string {
	if g.GroupPerClient {
		return g.Group + "-" + strconv.Itoa(i+1)
	}
	return g.Group
}
