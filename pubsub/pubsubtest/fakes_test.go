package pubsubtest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/pubsubtest"
)

func TestFakePublisherRecords(t *testing.T) {
	var p pubsubtest.TestPublisher // the zero value works
	ctx := context.Background()
	buf := []byte("raw")
	if err := p.PublishRaw(ctx, "k1", buf, pubsub.WithAttribute("a", "1")); err != nil {
		t.Fatal(err)
	}
	buf[0] = 'X' // the caller may reuse its buffer
	if err := p.Publish(ctx, "k2", wrapperspb.String("hello")); err != nil {
		t.Fatal(err)
	}
	got := p.Messages()
	if len(got) != 2 || p.Len() != 2 {
		t.Fatalf("recorded %d (Len %d), want 2", len(got), p.Len())
	}
	if got[0].Key != "k1" || string(got[0].Payload) != "raw" || got[0].Attributes["a"] != "1" {
		t.Errorf("first message = %+v", got[0])
	}
	got[0].Attributes["a"] = "changed"
	if p.Messages()[0].Attributes["a"] != "1" {
		t.Error("Messages does not return a copy")
	}
	var s wrapperspb.StringValue
	if err := p.DecodeProto(1, &s); err != nil || s.GetValue() != "hello" || p.Messages()[1].Key != "k2" {
		t.Errorf("DecodeProto(1) = %q, %v", s.GetValue(), err)
	}
	if err := p.DecodeProto(2, &s); err == nil {
		t.Error("DecodeProto out of range: want error")
	}
	if _, err := pubsubtest.DecodeAll(&p, func() *wrapperspb.StringValue { return new(wrapperspb.StringValue) }); err == nil {
		t.Error("DecodeAll over a non-proto payload: want error")
	}
	p.Reset()
	if p.Len() != 0 {
		t.Errorf("Len after Reset = %d", p.Len())
	}
}

func TestFakePublisherConcurrent(t *testing.T) {
	p := pubsubtest.NewTestPublisher()
	const workers, each = 8, 50
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				_ = p.Publish(context.Background(), fmt.Sprint(w), wrapperspb.Int64(int64(i)))
			}
		})
	}
	wg.Wait()
	vals, err := pubsubtest.DecodeAll(p, func() *wrapperspb.Int64Value { return new(wrapperspb.Int64Value) })
	if err != nil {
		t.Fatal(err)
	}
	if len(vals) != workers*each {
		t.Fatalf("decoded %d, want %d", len(vals), workers*each)
	}
	// Each publisher's own messages keep their order.
	next := map[string]int64{}
	for i, m := range p.Messages() {
		if vals[i].GetValue() != next[m.Key] {
			t.Fatalf("key %s: got %d, want %d", m.Key, vals[i].GetValue(), next[m.Key])
		}
		next[m.Key]++
	}
}

func TestFakePublisherScriptedFailures(t *testing.T) {
	p := pubsubtest.NewTestPublisher()
	ctx := context.Background()
	errDown := errors.New("broker down")
	p.FailNext(errDown, 2)
	for i := range 2 {
		if err := p.PublishRaw(ctx, "", []byte{byte(i)}); !errors.Is(err, errDown) {
			t.Errorf("publish %d = %v, want %v", i, err, errDown)
		}
	}
	if err := p.PublishRaw(ctx, "", []byte("ok")); err != nil {
		t.Errorf("third publish = %v, want nil", err)
	}
	p.SetPublishErr(func(m pubsub.Message) error {
		if m.Key == "bad" {
			return errors.New("rejected")
		}
		return nil
	})
	err := p.PublishBatch(ctx, []pubsub.Message{{Key: "good"}, {Key: "bad"}, {Key: "good"}})
	var be *pubsub.BatchError
	if !errors.As(err, &be) || len(be.Errs) != 3 || be.Errs[0] != nil || be.Errs[1] == nil || be.Errs[2] != nil {
		t.Fatalf("PublishBatch = %v, want a BatchError failing only message 1", err)
	}
	if p.Len() != 3 {
		t.Errorf("recorded %d, want 3 (failed ones are not recorded)", p.Len())
	}
	p.SetPublishErr(nil)
	if err := p.PublishBatch(ctx, []pubsub.Message{{Key: "bad"}}); err != nil {
		t.Errorf("after removing the hook: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := p.PublishRaw(cctx, "", nil); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled ctx: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishRaw(ctx, "", nil); !errors.Is(err, pubsub.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestFakePublisherWaitLen(t *testing.T) {
	p := pubsubtest.NewTestPublisher()
	go func() {
		for range 3 {
			_ = p.PublishRaw(context.Background(), "", nil)
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.WaitLen(ctx, 3); err != nil {
		t.Fatal(err)
	}
	short, cancel2 := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel2()
	if err := p.WaitLen(short, 4); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitLen(4) = %v, want DeadlineExceeded", err)
	}
}

func TestFakeMessageSettles(t *testing.T) {
	attrs := map[string]string{"a": "1"}
	m := pubsubtest.NewTestMessage("k", []byte("p"), attrs)
	attrs["a"] = "2"
	if m.Attributes()["a"] != "1" || m.Key() != "k" || string(m.Message()) != "p" || m.DeliveryAttempt() != 1 {
		t.Errorf("message fields wrong: %q %q %v %d", m.Key(), m.Message(), m.Attributes(), m.DeliveryAttempt())
	}
	if other := pubsubtest.NewTestMessage("k", nil, nil); m.ID() == "" || other.ID() == m.ID() {
		t.Errorf("IDs %q and %q: want distinct, non-empty", m.ID(), other.ID())
	}
	if m.WithID("x").WithDeliveryAttempt(3).ID() != "x" || m.DeliveryAttempt() != 3 {
		t.Error("WithID/WithDeliveryAttempt not applied")
	}
	select {
	case <-m.Settled():
		t.Fatal("settled before Done")
	default:
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() { _ = m.Done(); _ = m.Nack() })
	}
	wg.Wait()
	if !m.Acked() && !m.Nacked() || m.Acked() && m.Nacked() {
		t.Errorf("Acked %v, Nacked %v: want exactly one", m.Acked(), m.Nacked())
	}
	if m.DoneCount() != 4 || m.NackCount() != 4 {
		t.Errorf("counts done %d nack %d, want 4 and 4", m.DoneCount(), m.NackCount())
	}
	if err := m.WaitSettled(context.Background()); err != nil {
		t.Fatal(err)
	}

	n := pubsubtest.NewTestMessage("", nil, nil)
	_ = n.Nack()
	_ = n.Done()
	if n.Acked() || !n.Nacked() {
		t.Error("Nack then Done: want nacked, not acked")
	}
	n.SetExtendErr(pubsub.ErrNotSupported)
	if err := n.ExtendDoneDeadline(time.Second); !errors.Is(err, pubsub.ErrNotSupported) {
		t.Errorf("ExtendDoneDeadline = %v", err)
	}
	_ = n.ExtendDoneDeadline(2 * time.Second)
	if got := n.Extensions(); !slices.Equal(got, []time.Duration{time.Second, 2 * time.Second}) {
		t.Errorf("Extensions = %v", got)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := pubsubtest.NewTestMessage("", nil, nil).WaitSettled(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("WaitSettled on an unsettled message = %v", err)
	}
}
