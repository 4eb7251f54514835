package bench

import (
	"fmt"

	"github.com/kafka-lite/kafka-lite/ref"
)

// limit is a raw limit a row is measured against: the figure holding its
// per-repetition values, and how the report names it.
type limit struct {
	key figKey
	// tag is the short name in the table's limit column.
	tag string
	// phrase names it in a sentence: "a bare write(2) per record".
	phrase string
	// what describes it in full, for the limits table.
	what string
}

// limitWriteRecord is the produce limit of implementations that append
// one message per call: ref in process and the native drivers.
func limitWriteRecord() limit {
	return limit{key: timeKey(expProduce, implRaw), tag: "write/rec", phrase: "a bare write(2) per record",
		what: "a bare O_APPEND write(2) loop over the same framed bytes, one write per record, one clock read per write as ref's driver does"}
}

// limitWriteBatch is the produce limit of the implementations behind the
// protocol, which receive the messages in append requests of batch
// values: a write per record would be no limit for one that writes each
// request at once.
func limitWriteBatch(batch int) limit {
	return limit{key: timeKey(expProduce, implRawBatch), tag: fmt.Sprintf("write/%d", batch),
		phrase: fmt.Sprintf("a bare write(2) per %d records", batch),
		what:   fmt.Sprintf("the same O_APPEND loop with one write(2) per %d records, as the protocol's append requests batch them", batch)}
}

// limitReadSplit is the process limit.
func limitReadSplit() limit {
	return limit{key: timeKey(expProcess, implRaw), tag: "read+split", phrase: "a bare read and split",
		what: "a read of the chunk ref wrote through one reused 1 MiB buffer, split at \\n (the reference consumer's I/O without its checks); the best of three per repetition"}
}

// limitWake is the bare writer/reader pair whose reader waits as w does:
// its p50, or its p99.
func limitWake(w ref.WaitStrategy, p99 bool) limit {
	m, q := metricP50, "p50"
	if p99 {
		m, q = metricP99, "p99"
	}
	how := "blocked in poll(2) on an inotify descriptor"
	if w == ref.WaitSpin {
		how = "spinning on the byte where the next record begins, through a shared mapping of the file (the least time any reader takes to see a write)"
	}
	return limit{key: figKey{expWake(w), implBare, m}, tag: string(w) + " " + q,
		phrase: fmt.Sprintf("a bare %s wake-up (%s)", w, q),
		what:   fmt.Sprintf("%s of a bare writer/reader pair on the e2e rows' open-loop schedule, the reader %s", q, how)}
}

// limitCLIProduce and limitCLIConsume are the cli experiment's limits:
// small processes doing the same I/O as klref.
func limitCLIProduce() limit {
	return limit{key: timeKey(expCLIProduce, implRaw), tag: "proc write", phrase: "a bare process writing each line",
		what: "clibare produce: a small Go process, start included, that does one O_APPEND write(2) per line of stdin"}
}

func limitCLIConsume() limit {
	return limit{key: timeKey(expCLIConsume, implRaw), tag: "proc read", phrase: "a bare process reading and printing each line",
		what: "clibare consume: a small Go process, start included, that reads the chunks through a 1 MiB buffer, splits them at \\n and prints each line; the best of three per repetition"}
}
