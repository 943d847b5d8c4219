package kafka_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
)

// TestReader replays a partition outside any group, from an offset, a
// time, the oldest and the newest record; Done moves Resume and Nack
// delivers again.
func TestReader(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 1)
	produceN(t, addr, topic, "before", 5, 0)
	// Record timestamps are in milliseconds: step past the last one.
	mark := time.Now().Add(2 * time.Millisecond)
	time.Sleep(5 * time.Millisecond)
	produceN(t, addr, topic, "after", 5, 0)
	cfg := testConfig(addr, []string{topic}, "")

	open := func(from kafka.Position) (*kafka.Reader, <-chan pubsub.SubscriberMessage) {
		r, err := kafka.NewReader(t.Context(), cfg, 0, from)
		if err != nil {
			t.Fatalf("NewReader from %v: %v", from, err)
		}
		t.Cleanup(func() { _ = r.Stop(withTimeout(t, 5*time.Second)) })
		return r, r.Start()
	}
	for _, tc := range []struct {
		from  kafka.Position
		first string
	}{
		{kafka.AtOffset(3), "before-3"},
		{kafka.AtTime(mark), "after-0"},
		{kafka.Oldest, "before-0"},
	} {
		_, ch := open(tc.from)
		m := receiveN(t, ch, 1)[0]
		if string(m.Message()) != tc.first {
			t.Errorf("from %v: first %q, want %q", tc.from, m.Message(), tc.first)
		}
		_ = m.Done()
	}

	r, ch := open(kafka.AtOffset(5))
	ms := receiveN(t, ch, 5)
	for i, m := range ms {
		if want := fmt.Sprint("after-", i); string(m.Message()) != want {
			t.Fatalf("message %d: %q, want %q", i, m.Message(), want)
		}
	}
	if got := r.Resume(); got != 5 {
		t.Errorf("Resume before any Done = %d, want 5", got)
	}
	_ = ms[0].Done()
	_ = ms[1].Done()
	_ = ms[3].Done()
	if got := r.Resume(); got != 7 {
		t.Errorf("Resume with 5, 6 and 8 Done = %d, want 7", got)
	}
	if err := ms[2].Nack(); err != nil {
		t.Fatal(err)
	}
	if again := receiveN(t, ch, 1)[0]; again.Record().Offset != 7 {
		t.Fatalf("after Nack: offset %d, want 7", again.Record().Offset)
	} else if err := again.DoneWait(t.Context()); err != nil {
		t.Fatalf("DoneWait on a reader: %v", err)
	}
	if got, lag := r.Resume(), r.Lag(); got != 9 || lag.HighWaterMark != 10 || lag.Lag != 1 {
		t.Errorf("Resume %d, Lag %+v; want 9, high-water mark 10, lag 1", got, lag)
	}
	// ms[4] is still out: Stop gives up on it at its deadline.
	ctx := withTimeout(t, 200*time.Millisecond)
	if err := r.Stop(ctx); !errors.Is(err, pubsub.ErrDrainTimeout) {
		t.Errorf("Stop with a message out = %v, want ErrDrainTimeout", err)
	}
	if err := ms[4].Done(); !errors.Is(err, pubsub.ErrStopped) {
		t.Errorf("Done after Stop = %v, want ErrStopped", err)
	}

	_, ch = open(kafka.Newest)
	produceN(t, addr, topic, "newest", 1, 0)
	m := receiveN(t, ch, 1)[0]
	if string(m.Message()) != "newest-0" {
		t.Errorf("from the newest: %q, want newest-0", m.Message())
	}
	_ = m.Done()
}

// TestReaderTopicDeleted: a Reader whose topic is deleted ends, with an
// error wrapping ErrTopicNotFound, rather than wait forever.
func TestReaderTopicDeleted(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 1)
	produceN(t, addr, topic, "doomed", 1, 0)
	r, err := kafka.NewReader(t.Context(), testConfig(addr, []string{topic}, ""), 0, kafka.Oldest)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop(withTimeout(t, 5*time.Second)) })
	ch := r.Start()
	_ = receiveN(t, ch, 1)[0].Done()
	admin := newAdmin(t, addr)
	if err := admin.DeleteTopic(topic); err != nil {
		t.Fatal(err)
	}
	admin.Close()
	select {
	case m, ok := <-ch:
		if ok {
			t.Fatalf("delivered %q after the topic was deleted", m.Message())
		}
	case <-time.After(time.Minute):
		t.Fatal("the reader of a deleted topic did not end within a minute")
	}
	if err := r.Err(); !errors.Is(err, pubsub.ErrTopicNotFound) {
		t.Errorf("Err = %v, want ErrTopicNotFound", err)
	}
}
