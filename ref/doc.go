// Package ref is kafka-lite's reference log: a single-host, Kafka-like event
// log whose producers are separate processes appending to chunk files with
// O_APPEND, without a broker.
//
//	t, _ := ref.Open("/var/lib/kl", "orders", ref.Options{ChunkRecords: 100_000})
//	p, _ := t.NewProducer()
//	p.Append([]byte(`{"id":1}`))
//	c, _ := t.NewConsumer(ref.ConsumerOptions{Group: "billing"}) // resumes after its last ack
//	recs, _ := c.Poll(ctx, 100)
//	c.Ack(recs[len(recs)-1].Offset)
//
// A topic is a directory of numbered chunk files. Each record is one line:
//
//	RS {"t":<19-digit ns time>,"c":"<CRC-32C hex>","v":<JSON payload>} LF
//
// The RS start marker and the LF end make the framing self-synchronizing,
// so a torn record never swallows the next one. The CRC is checked without
// a JSON parser. A producer appends with one write(2) and confirms that the
// write preceded any seal with two atomic loads of a generation word in a
// shared memory-mapped control file. Rotation seals the chunk with a record,
// creates the next chunk with its base offset, and takes no lock: any
// producer or reader that meets a rotation half done finishes it. Offsets
// are dense and the same for every reader. Consumer groups record acks in
// an ack log of their own.
//
// docs/FORMAT.md is the full specification, with byte-level examples and
// the durability of each fsync mode.
package ref
