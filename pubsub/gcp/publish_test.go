package gcp

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

const publishMethod = "/google.pubsub.v1.Publisher/Publish"

// failPublishes returns a client option that refuses, with a status of
// code, every Publish call carrying a message whose data starts with
// "fail", and the first transient calls of any kind with Unavailable.
func failPublishes(code codes.Code, transient int64) Option {
	var calls atomic.Int64
	icpt := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if method == publishMethod {
			if calls.Add(1) <= transient {
				return status.Error(codes.Unavailable, "injected: try again")
			}
			for _, m := range req.(*pubsubpb.PublishRequest).Messages {
				if strings.HasPrefix(string(m.Data), "fail") {
					return status.Error(code, "injected: refused")
				}
			}
		}
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	return WithClientOptions(option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(icpt)))
}

// collect returns the payloads delivered within a quiet second after at
// least n arrived.
func collect(t *testing.T, ch <-chan gizmo.SubscriberMessage, n int) map[string]int {
	t.Helper()
	got := make(map[string]int)
	for total := 0; total < n; total++ {
		m := recv(t, ch, "the accepted messages")
		got[string(m.Message())]++
		_ = m.Done()
	}
	for {
		select {
		case m := <-ch:
			got[string(m.Message())]++
			_ = m.Done()
		case <-time.After(time.Second):
			return got
		}
	}
}

// TestPublishBatchKeyRule checks the contract's batch rule when Pub/Sub
// refuses a request: without ordering, where requests go out
// concurrently, and with it. Once a message of key K failed, no later
// message of K in the call is sent; the others are.
func TestPublishBatchKeyRule(t *testing.T) {
	t.Parallel()
	for _, ordering := range []bool{false, true} {
		name := "Unordered"
		if ordering {
			name = "Ordered"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			topic, sub := f.topicAndSub(func(s *pubsubpb.Subscription) { s.EnableMessageOrdering = ordering })
			cfg := f.config(topic, sub)
			cfg.Publish.Ordering = ordering
			cfg.Publish.CountThreshold = 1 // one message per request: a refusal fails one message
			p := f.publisher(cfg, failPublishes(codes.InvalidArgument, 0))
			msgs := []gizmo.Message{
				{Key: "K", Payload: []byte("k0")},
				{Key: "K", Payload: []byte("fail-k1")},
				{Key: "J", Payload: []byte("j0")},
				{Key: "K", Payload: []byte("k2")},
				{Payload: []byte("none")},
				{Key: "K", Payload: []byte("k3")},
			}
			err := p.PublishBatch(t.Context(), msgs)
			var be *gizmo.BatchError
			if !errors.As(err, &be) {
				t.Fatalf("PublishBatch = %v, want a BatchError", err)
			}
			for i, want := range []error{nil, errRefused, nil, gizmo.ErrKeyBlocked, nil, gizmo.ErrKeyBlocked} {
				got := be.Errs[i]
				switch {
				case want == nil && got != nil:
					t.Errorf("message %q: %v, want success", msgs[i].Payload, got)
				case want == errRefused && status.Code(got) != codes.InvalidArgument:
					t.Errorf("message %q: %v, want Pub/Sub's refusal", msgs[i].Payload, got)
				case want == gizmo.ErrKeyBlocked && !errors.Is(got, gizmo.ErrKeyBlocked):
					t.Errorf("message %q: %v, want ErrKeyBlocked", msgs[i].Payload, got)
				}
			}
			// The next publish of K goes through: with ordering, the
			// publisher resumes the key the client paused.
			f.publish(p, "K", "k4")
			got := collect(t, f.subscriber(cfg).Start(), 4)
			want := map[string]int{"k0": 1, "j0": 1, "none": 1, "k4": 1}
			if len(got) != len(want) {
				t.Errorf("delivered %v, want %v", got, want)
			}
			for pl := range want {
				if got[pl] == 0 {
					t.Errorf("%q was not delivered (got %v)", pl, got)
				}
			}
		})
	}
}

// errRefused marks the expected refusal in a table.
var errRefused = errors.New("refused")

// TestOrderedPublishResumes checks that after a publish of an ordering
// key fails, the next publish of that key succeeds, in order.
func TestOrderedPublishResumes(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic, sub := f.topicAndSub(func(s *pubsubpb.Subscription) { s.EnableMessageOrdering = true })
	cfg := f.config(topic, sub)
	cfg.Publish.Ordering = true
	p := f.publisher(cfg, failPublishes(codes.InvalidArgument, 0))
	f.publish(p, "K", "first")
	if err := p.PublishRaw(t.Context(), "K", []byte("fail")); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("PublishRaw of the refused message = %v", err)
	}
	f.publish(p, "K", "second")
	ch := f.subscriber(cfg).Start()
	for _, want := range []string{"first", "second"} {
		m := recv(t, ch, want)
		if string(m.Message()) != want {
			t.Errorf("got %q, want %q", m.Message(), want)
		}
		_ = m.Done()
	}
}

// TestPublishRetriesTransientErrors makes Pub/Sub answer the first three
// publish requests with Unavailable: the client retries, and every
// message arrives once.
func TestPublishRetriesTransientErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	topic, sub := f.topicAndSub(nil)
	cfg := f.config(topic, sub)
	p := f.publisher(cfg, failPublishes(codes.InvalidArgument, 3))
	f.publish(p, "", "one")
	if err := p.PublishBatch(t.Context(), []gizmo.Message{{Payload: []byte("two")}, {Payload: []byte("three")}}); err != nil {
		t.Fatalf("PublishBatch: %v", err)
	}
	got := collect(t, f.subscriber(cfg).Start(), 3)
	for _, pl := range []string{"one", "two", "three"} {
		if got[pl] != 1 {
			t.Errorf("%q delivered %d times, want once (all: %v)", pl, got[pl], got)
		}
	}
}
