package kafka_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
)

// TestUnknownTopic: on a broker that does not create topics, a missing
// topic fails the publisher with ErrTopicNotFound (even when this client
// asks for auto-creation), the subscriber with ErrSubscriptionNotFound,
// and the reader with ErrTopicNotFound.
func TestUnknownTopic(t *testing.T) {
	b := startBroker(t, "", "-no-auto-create")
	missing := randomName("gizmo-missing-")
	for _, autoCreate := range []bool{false, true} {
		cfg := testConfig(b.Addr(), []string{missing}, randomName("gizmo-g-"))
		cfg.AutoCreateTopics = autoCreate
		if _, err := kafka.NewPublisher(t.Context(), cfg); !errors.Is(err, pubsub.ErrTopicNotFound) || !strings.Contains(err.Error(), missing) {
			t.Errorf("NewPublisher (auto-create %v) = %v, want ErrTopicNotFound naming the topic", autoCreate, err)
		}
		_, err := kafka.NewSubscriber(t.Context(), cfg)
		if !errors.Is(err, pubsub.ErrSubscriptionNotFound) || !errors.Is(err, pubsub.ErrTopicNotFound) {
			t.Errorf("NewSubscriber (auto-create %v) = %v, want ErrSubscriptionNotFound and ErrTopicNotFound", autoCreate, err)
		}
		if _, err := kafka.NewReader(t.Context(), cfg, 0, kafka.Oldest); !errors.Is(err, pubsub.ErrTopicNotFound) {
			t.Errorf("NewReader (auto-create %v) = %v, want ErrTopicNotFound", autoCreate, err)
		}
	}
	// A topic that exists works on the same broker.
	topic := createTopic(t, b.Addr(), 1)
	p, err := kafka.NewPublisher(t.Context(), testConfig(b.Addr(), []string{topic}, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.PublishRaw(t.Context(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if _, err := kafka.NewReader(t.Context(), testConfig(b.Addr(), []string{topic}, ""), 1, kafka.Oldest); !errors.Is(err, pubsub.ErrTopicNotFound) {
		t.Errorf("NewReader of partition 1 of a 1-partition topic = %v, want ErrTopicNotFound", err)
	}
}

// TestOversize: a record over KAFKA_MAX_MESSAGE_BYTES fails with
// ErrTooLarge before it is sent, headers counted; one the topic's own
// max.message.bytes refuses fails with ErrTooLarge from the broker.
func TestOversize(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 1)
	cfg := testConfig(addr, []string{topic}, "")
	cfg.MaxMessageBytes = 1000
	p, err := kafka.NewPublisher(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if err := p.PublishRaw(t.Context(), "", make([]byte, 1000-36)); err != nil {
		t.Fatalf("a record of exactly the limit: %v", err)
	}
	if err := p.PublishRaw(t.Context(), "", make([]byte, 1000-35)); !errors.Is(err, pubsub.ErrTooLarge) {
		t.Errorf("one byte over the limit: %v, want ErrTooLarge", err)
	}
	// 3 bytes of key, 910 of payload, a header of 50 bytes and its 10,
	// and the 36 of the record: 1009.
	err = p.PublishRaw(t.Context(), "key", make([]byte, 910), pubsub.WithAttribute(strings.Repeat("h", 25), strings.Repeat("v", 25)))
	if !errors.Is(err, pubsub.ErrTooLarge) {
		t.Errorf("a record over the limit with its header: %v, want ErrTooLarge", err)
	}
	be := p.PublishBatch(t.Context(), []pubsub.Message{{Key: "a", Payload: make([]byte, 2000)}, {Key: "a", Payload: []byte("x")}, {Key: "b", Payload: []byte("y")}})
	var batch *pubsub.BatchError
	if !errors.As(be, &batch) || !errors.Is(batch.Errs[0], pubsub.ErrTooLarge) || !errors.Is(batch.Errs[1], pubsub.ErrKeyBlocked) || batch.Errs[2] != nil {
		t.Errorf("PublishBatch with an oversize first message = %v, want ErrTooLarge, ErrKeyBlocked, nil", be)
	}

	// The broker's own limit, below the client's.
	small := randomName("gizmo-t-")
	admin := newAdmin(t, addr)
	limit := "500"
	err = admin.CreateTopic(small, &sarama.TopicDetail{NumPartitions: 1, ReplicationFactor: 1, ConfigEntries: map[string]*string{"max.message.bytes": &limit}}, false)
	admin.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a := newAdmin(t, addr); _ = a.DeleteTopic(small); a.Close() })
	p2, err := kafka.NewPublisher(t.Context(), testConfig(addr, []string{small}, ""))
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	if err := p2.PublishRaw(t.Context(), "", make([]byte, 900)); !errors.Is(err, pubsub.ErrTooLarge) {
		t.Errorf("a record over the topic's max.message.bytes: %v, want ErrTooLarge", err)
	}
}

// TestUnreachableBroker: connecting fails, with an error naming every
// broker address, when nothing listens, when a broker accepts but never
// answers (the configured timeouts end it), and when the context ends.
func TestUnreachableBroker(t *testing.T) {
	refused := closedPort(t)
	hole, err := net.Listen("tcp", "127.0.0.1:0") // accepts, never answers
	if err != nil {
		t.Fatal(err)
	}
	defer hole.Close()
	go func() {
		for {
			c, err := hole.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	cfg := kafka.Config{Topics: []string{"t"}, Group: "g", DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 300 * time.Millisecond, WriteTimeout: 300 * time.Millisecond, Retries: 1, RetryBackoff: 10 * time.Millisecond}

	cfg.Brokers = []string{refused, hole.Addr().String()}
	_, err = kafka.NewPublisher(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), refused) || !strings.Contains(err.Error(), hole.Addr().String()) {
		t.Fatalf("NewPublisher = %v, want an error naming %s and %s", err, refused, hole.Addr())
	}
	if !errors.Is(err, sarama.ErrOutOfBrokers) {
		t.Errorf("NewPublisher = %v, want sarama.ErrOutOfBrokers: the timeouts, not the context, ended it", err)
	}
	t.Logf("refused and silent brokers: %v", err)

	cfg.Brokers = []string{hole.Addr().String()}
	cfg.ReadTimeout, cfg.DialTimeout = time.Minute, time.Minute
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = kafka.NewSubscriber(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), hole.Addr().String()) {
		t.Errorf("NewSubscriber with a short context = %v, want context.DeadlineExceeded naming %s", err, hole.Addr())
	}
}

// closedPort returns an address on which nothing listens.
func closedPort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

// TestTopicDeleted: a subscribed topic that is deleted ends the
// subscriber: its channel closes and Err wraps ErrSubscriptionNotFound.
func TestTopicDeleted(t *testing.T) {
	addr := sharedBroker(t)
	topic := createTopic(t, addr, 1)
	produceN(t, addr, topic, "doomed", 1, 0)
	s, err := kafka.NewSubscriber(t.Context(), testConfig(addr, []string{topic}, randomName("gizmo-g-")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Stop(withTimeout(t, 5*time.Second)) })
	ch := s.Start()
	m := receiveN(t, ch, 1)[0]
	_ = m.Done()
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
		t.Fatal("the subscriber of a deleted topic did not end within a minute")
	}
	if err := s.Err(); !errors.Is(err, pubsub.ErrSubscriptionNotFound) {
		t.Errorf("Err = %v, want ErrSubscriptionNotFound", err)
	}
}
