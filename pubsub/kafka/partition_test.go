package kafka

import (
	"testing"

	"github.com/IBM/sarama"
)

// newTestEpoch returns an epoch whose marks are recorded in marks.
func newTestEpoch(limit int, marks *[]int64) *epoch {
	return newEpoch("t", 0, limit, func(off int64) { *marks = append(*marks, off) }, nil, func(int64) {})
}

// deliverAll reads offsets and sends each, returning their seqs.
func deliverAll(ep *epoch, offsets ...int64) []uint64 {
	seqs := make([]uint64, len(offsets))
	for i, off := range offsets {
		seqs[i], _ = ep.addOut(off)
	}
	return seqs
}

// TestWatermarkStopsAtFirstGap settles out of order: the mark only ever
// moves to the oldest record not Done.
func TestWatermarkStopsAtFirstGap(t *testing.T) {
	var marks []int64
	ep := newTestEpoch(100, &marks)
	// Offsets with a hole (compaction or a transaction marker) at 13.
	s := deliverAll(ep, 10, 11, 12, 14, 15)
	rec := &sarama.ConsumerMessage{}
	ep.settle(s[1], rec, true) // 11
	ep.settle(s[3], rec, true) // 14
	if len(marks) != 0 {
		t.Fatalf("marked %v while 10 is not Done", marks)
	}
	ep.settle(s[0], rec, true)  // 10: the mark moves to 12, the first not Done
	ep.settle(s[2], rec, false) // 12 Nacked: it stays the watermark
	if want := []int64{12}; !equal(marks, want) {
		t.Fatalf("marks %v, want %v", marks, want)
	}
	_, seq, st := ep.nextRedo()
	if st != redoOne || seq != s[2] {
		t.Fatalf("the Nacked record is not queued for redelivery: %v %v", seq, st)
	}
	ep.settle(s[4], rec, true) // 15
	ep.settle(seq, rec, true)  // 12 again: everything is Done, mark after the newest
	if want := []int64{12, 16}; !equal(marks, want) {
		t.Fatalf("marks %v, want %v", marks, want)
	}
	if !ep.idle() {
		t.Error("not idle with everything Done")
	}
}

func TestEpochLimitAndClose(t *testing.T) {
	var marks []int64
	ep := newTestEpoch(3, &marks)
	s := deliverAll(ep, 0, 1, 2)
	full := func() bool { _, _, st := ep.nextRedo(); return st == redoFull }
	if !full() {
		t.Fatal("not full at the limit")
	}
	ep.settle(s[1], nil, true)
	ep.settle(s[2], nil, true)
	if !full() {
		t.Fatal("Done records behind an unsettled one must still count against the limit")
	}
	ep.settle(s[0], nil, true)
	if full() {
		t.Fatal("still full with everything Done")
	}
	s2 := deliverAll(ep, 3, 4)
	if n := ep.close(false); n != 2 {
		t.Fatalf("close reported %d out, want 2", n)
	}
	if ep.settle(s2[0], nil, true) {
		t.Fatal("a settle after close succeeded")
	}
	if want := []int64{3}; !equal(marks, want) {
		t.Fatalf("marks %v, want %v: nothing may be marked after close", marks, want)
	}
}

// TestEpochUnsend: a record whose send was abandoned blocks the mark like
// any unsettled one.
func TestEpochUnsend(t *testing.T) {
	var marks []int64
	ep := newTestEpoch(10, &marks)
	s := deliverAll(ep, 0, 1)
	ep.unsend(s[0])
	ep.settle(s[1], nil, true)
	if len(marks) != 0 || !ep.idle() {
		t.Fatalf("marks %v idle %v: an unsent record must hold the mark back and not count as out", marks, ep.idle())
	}
}

func equal(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
