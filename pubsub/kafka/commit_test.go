package kafka_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
)

// receiveN receives n messages from ch.
func receiveN(t *testing.T, ch <-chan pubsub.SubscriberMessage, n int) []*kafka.Message {
	t.Helper()
	out := make([]*kafka.Message, 0, n)
	timeout := time.After(30 * time.Second)
	for len(out) < n {
		select {
		case m, ok := <-ch:
			if !ok {
				t.Fatalf("channel closed after %d of %d messages", len(out), n)
			}
			out = append(out, m.(*kafka.Message))
		case <-timeout:
			t.Fatalf("%d of %d messages received", len(out), n)
		}
	}
	return out
}

// TestOutOfOrderDone settles the records of one partition out of order:
// the group's committed offset stops at the first record not Done, and a
// Nacked record holds it there until it comes back and is Done.
func TestOutOfOrderDone(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 1)
	group := randomName("gizmo-g-")
	produceN(t, addr, topic, "ooo", 10, 0)
	sub, err := kafka.NewSubscriber(t.Context(), testConfig(addr, []string{topic}, group))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Stop(withTimeout(t, 5*time.Second)) })
	ms := receiveN(t, sub.Start(), 10)
	for i, m := range ms {
		if m.Record().Offset != int64(i) || m.ID() != fmt.Sprintf("%s/0/%d", topic, i) {
			t.Fatalf("message %d: offset %d ID %q: not delivered in offset order", i, m.Record().Offset, m.ID())
		}
	}
	ctx := withTimeout(t, 30*time.Second)
	committed := func() int64 { return committedOffsets(t, addr, group, topic, 1)[0] }

	for _, i := range []int{0, 1, 2} {
		if err := ms[i].Done(); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{4, 5, 6, 8} {
		if err := ms[i].Done(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ms[3].Nack(); err != nil {
		t.Fatal(err)
	}
	// DoneWait on 2 commits what is marked now and waits for it.
	if err := ms[2].DoneWait(ctx); err != nil {
		t.Fatalf("DoneWait: %v", err)
	}
	if got := committed(); got != 3 {
		t.Fatalf("committed offset %d with 0-2 and 4-6 Done and 3 Nacked; want 3, the first not Done", got)
	}
	lags := sub.Lag()
	want := kafka.PartitionLag{Topic: topic, Partition: 0, HighWaterMark: 10, Marked: 3, Read: 10, Unsettled: 3, Lag: 7}
	if len(lags) != 1 || lags[0] != want {
		t.Errorf("Lag = %+v, want [%+v]: 3, 7 and 9 not Done; 4-6 and 8 Done behind 3", lags, want)
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	err = ms[8].DoneWait(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("DoneWait of 8 while 3 and 7 are unsettled = %v, want it to wait (context.DeadlineExceeded)", err)
	}
	again := receiveN(t, sub.Start(), 1)[0]
	if again.Record().Offset != 3 {
		t.Fatalf("redelivered offset %d, want the Nacked 3", again.Record().Offset)
	}
	if err := again.Done(); err != nil {
		t.Fatal(err)
	}
	if err := ms[6].DoneWait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := committed(); got != 7 {
		t.Fatalf("committed offset %d with 0-6 and 8 Done; want 7", got)
	}
	if err := ms[7].Done(); err != nil {
		t.Fatal(err)
	}
	if err := ms[9].DoneWait(ctx); err != nil {
		t.Fatal(err)
	}
	if got := committed(); got != 10 {
		t.Fatalf("committed offset %d with everything Done; want 10", got)
	}
}

// TestRevokedSettle: once a partition is revoked, settling its old
// deliveries returns ErrLeaseLost and commits nothing, and the new owner
// gets what was not committed.
func TestRevokedSettle(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 1)
	group := randomName("gizmo-g-")
	produceN(t, addr, topic, "revoke", 5, 0)
	cfg := testConfig(addr, []string{topic}, group)
	cfg.RevokeTimeout = 500 * time.Millisecond
	first, err := kafka.NewSubscriber(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Stop(withTimeout(t, 5*time.Second)) })
	ms := receiveN(t, first.Start(), 5)
	if err := ms[0].DoneWait(withTimeout(t, 30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if len(first.Lag()) != 1 || first.Lag()[0].Marked != 1 {
		t.Fatalf("Lag %+v, want the one partition marked at 1", first.Lag())
	}
	if err := ms[1].ExtendDoneDeadline(time.Hour); err != nil {
		t.Fatalf("ExtendDoneDeadline on an owned partition: %v", err)
	}
	// A second member makes the group rebalance; the single partition
	// is revoked from first, which holds 1-4 past RevokeTimeout.
	second, err := kafka.NewSubscriber(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Stop(withTimeout(t, 5*time.Second)) })
	ch2 := second.Start()
	waitFor(t, func() bool { return errors.Is(ms[1].ExtendDoneDeadline(time.Minute), pubsub.ErrLeaseLost) },
		"the partition to be revoked from the first member")
	for _, m := range ms[1:] {
		if err := m.Done(); !errors.Is(err, pubsub.ErrLeaseLost) {
			t.Fatalf("Done of %s after the revoke = %v, want ErrLeaseLost", m.ID(), err)
		}
	}
	if got := committedOffsets(t, addr, group, topic, 1)[0]; got != 1 {
		t.Fatalf("committed %d after the revoked Dones, want 1", got)
	}
	// The partition is the second member's, or back with the first
	// in the new generation: either way 1-4 come again.
	var m pubsub.SubscriberMessage
	select {
	case m = <-ch2:
	case m = <-first.Start():
	case <-time.After(30 * time.Second):
		t.Fatal("nobody got the uncommitted records again")
	}
	if off := m.(*kafka.Message).Record().Offset; off != 1 {
		t.Fatalf("the partition's owner starts at offset %d, want 1, the first not Done", off)
	}
	if err := m.Done(); err != nil {
		t.Fatal(err)
	}
}

// signalHandler is a slog handler that closes ch at the first record whose
// message is msg.
type signalHandler struct {
	msg  string
	ch   chan struct{}
	once *sync.Once
}

func (h signalHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h signalHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.once.Do(func() { close(h.ch) })
	}
	return nil
}
func (h signalHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h signalHandler) WithGroup(string) slog.Handler      { return h }

// TestRevokeGrace: messages Done while their partition is being revoked,
// within RevokeTimeout, are committed before the partition moves, and the
// next owner starts after them.
func TestRevokeGrace(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 1)
	group := randomName("gizmo-g-")
	produceN(t, addr, topic, "grace", 5, 0)
	cfg := testConfig(addr, []string{topic}, group)
	cfg.RevokeTimeout = 10 * time.Second
	revoking := make(chan struct{})
	log := slog.New(signalHandler{msg: "kafka: partition revoked; waiting for its delivered messages", ch: revoking, once: new(sync.Once)})
	first, err := kafka.NewSubscriber(t.Context(), cfg, kafka.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.Stop(withTimeout(t, 5*time.Second)) })
	ms := receiveN(t, first.Start(), 3)
	second, err := kafka.NewSubscriber(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = second.Stop(withTimeout(t, 5*time.Second)) })
	ch2 := second.Start()
	select {
	case <-revoking:
	case <-time.After(30 * time.Second):
		t.Fatal("the partition was not revoked from the first member")
	}
	for _, m := range ms {
		if err := m.Done(); err != nil {
			t.Fatalf("Done during the revoke's grace: %v", err)
		}
	}
	var m pubsub.SubscriberMessage
	select {
	case m = <-ch2:
	case m = <-first.Start():
	case <-time.After(30 * time.Second):
		t.Fatal("nobody got the partition after the revoke")
	}
	if off := m.(*kafka.Message).Record().Offset; off != 3 {
		t.Fatalf("the partition's next owner starts at offset %d, want 3: the Dones of the grace were not committed", off)
	}
	_ = m.Done()
}
