package gcp

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"
	"google.golang.org/api/option"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gizmo "github.com/seed8104ecd5/gizmo/pubsub"
)

const acknowledge = "/google.pubsub.v1.Subscriber/Acknowledge"

// failAcks returns a client option that answers the first n Acknowledge
// calls itself with an error built by fail from the call's ack IDs (n < 0:
// every call), as Pub/Sub would for an exactly-once subscription.
func failAcks(n int64, fail func(ackIDs []string) error) Option {
	var calls atomic.Int64
	icpt := func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoke grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		if method == acknowledge && (n < 0 || calls.Add(1) <= n) {
			return fail(req.(*pubsubpb.AcknowledgeRequest).AckIds)
		}
		return invoke(ctx, method, req, reply, cc, opts...)
	}
	return WithClientOptions(option.WithGRPCDialOption(grpc.WithChainUnaryInterceptor(icpt)))
}

// perAckIDError is Pub/Sub's answer for an exactly-once subscription: an
// ErrorInfo whose metadata gives the failure of each ack ID.
func perAckIDError(code codes.Code, failure string) func([]string) error {
	return func(ids []string) error {
		md := make(map[string]string, len(ids))
		for _, id := range ids {
			md[id] = failure
		}
		st, err := status.New(code, "injected").WithDetails(&errdetails.ErrorInfo{
			Reason: "EXACTLY_ONCE_ACKID_FAILURE", Domain: "pubsub.googleapis.com", Metadata: md,
		})
		if err != nil {
			panic(err)
		}
		return st.Err()
	}
}

func eodFixture(t *testing.T) (*fixture, Config, *Publisher) {
	f := newFixture(t)
	topic, sub := f.topicAndSub(func(s *pubsubpb.Subscription) { s.EnableExactlyOnceDelivery = true })
	cfg := f.config(topic, sub)
	cfg.Receive.ExactlyOnce = true
	return f, cfg, f.publisher(cfg)
}

// TestExactlyOnce acknowledges on an exactly-once subscription with Done
// and DoneWait, which report Pub/Sub's answer, and checks that nothing
// comes back after the ack deadline has passed.
func TestExactlyOnce(t *testing.T) {
	t.Parallel()
	f, cfg, p := eodFixture(t)
	for _, pl := range []string{"a", "b", "c"} {
		f.publish(p, "", pl)
	}
	r := f.subscriber(cfg)
	ch := r.Start()
	nacked := false
	for settled := 0; settled < 3; {
		m := recv(t, ch, "the messages")
		var err error
		switch {
		case string(m.Message()) == "c" && !nacked:
			nacked = true
			err = m.Nack()
		case string(m.Message()) == "a":
			err = m.Done()
			settled++
		default:
			err = m.DoneWait(t.Context())
			settled++
		}
		if err != nil {
			t.Errorf("settling %q: %v", m.Message(), err)
		}
	}
	if err := r.Stop(t.Context()); err != nil {
		t.Errorf("Stop: %v", err)
	}
	expectNone(t, f.subscriber(cfg).Start(), testAckExtension+2*time.Second, "a message acknowledged with exactly-once delivery came back")
}

// TestExactlyOnceFailures makes Pub/Sub's answers fail: an invalid ack ID
// (the lease was lost) and a refusal are reported by Done, and the
// message comes back; a transient failure is retried by the client until
// the acknowledgement succeeds.
func TestExactlyOnceFailures(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		fail     Option
		want     error
		comeBack bool
	}{
		{"InvalidAckID", failAcks(-1, perAckIDError(codes.FailedPrecondition, "PERMANENT_FAILURE_INVALID_ACK_ID")), gizmo.ErrLeaseLost, true},
		{"PermissionDenied", failAcks(-1, func([]string) error { return status.Error(codes.PermissionDenied, "injected") }), ErrPermissionDenied, true},
		{"TransientThenSuccess", failAcks(1, perAckIDError(codes.Unavailable, "TRANSIENT_FAILURE_UNORDERED_ACK_ID")), nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, cfg, p := eodFixture(t)
			f.publish(p, "", "m")
			r := f.subscriber(cfg, tc.fail)
			m := recv(t, r.Start(), "the message")
			err := m.Done()
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("Done = %v, want %v", err, tc.want)
			}
			if err := r.Stop(t.Context()); err != nil {
				t.Errorf("Stop: %v", err)
			}
			next := f.subscriber(cfg).Start()
			if tc.comeBack {
				again := recv(t, next, "the message whose acknowledgement failed")
				_ = again.Done()
			} else {
				expectNone(t, next, testAckExtension+2*time.Second, "a message acknowledged after a retry came back")
			}
		})
	}
}

// TestDoneWaitWithoutExactlyOnce checks that DoneWait does not pretend to
// a confirmation Pub/Sub does not give, whether the subscriber does not
// ask for exactly-once acknowledgements or the subscription does not
// have them: it fails with ErrNotSupported and leaves the message
// unsettled, and Done still works.
func TestDoneWaitWithoutExactlyOnce(t *testing.T) {
	t.Parallel()
	for _, askEOD := range []bool{false, true} {
		t.Run(fmt.Sprintf("ExactlyOnce=%v", askEOD), func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			topic, sub := f.topicAndSub(nil)
			cfg := f.config(topic, sub)
			cfg.Receive.ExactlyOnce = askEOD
			f.publish(f.publisher(cfg), "", "m")
			m := recv(t, f.subscriber(cfg).Start(), "the message")
			if err := gizmo.DoneWait(t.Context(), m); !errors.Is(err, gizmo.ErrNotSupported) {
				t.Errorf("DoneWait = %v, want an error wrapping ErrNotSupported", err)
			}
			if s := m.Settlement(); s != gizmo.Unsettled {
				t.Errorf("Settlement after DoneWait = %v, want Unsettled", s)
			}
			if err := m.Done(); err != nil {
				t.Errorf("Done after DoneWait: %v", err)
			}
			if s := m.Settlement(); s != gizmo.Acked {
				t.Errorf("Settlement after Done = %v, want Acked", s)
			}
		})
	}
}
