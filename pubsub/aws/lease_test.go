package aws_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

// sendRaw sends n messages to a queue with the SDK, bodies "prefix-i".
func sendRaw(t testing.TB, c *sqs.Client, url, prefix string, n int) map[string]bool {
	t.Helper()
	want := make(map[string]bool, n)
	for i := range n {
		body := fmt.Sprintf("%s-%d", prefix, i)
		want[body] = true
		if _, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &url, MessageBody: &body}); err != nil {
			t.Fatal(err)
		}
	}
	return want
}

// TestDeleteFailureRetried injects batch deletes whose every entry fails
// with a server fault, twice, then lets them through: the deletes are
// retried, DoneWait reports success, and the messages do not come back.
func TestDeleteFailureRetried(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	url := newQueue(t, plain, gaws.QueueOptions{})
	in := newInjector()
	in.on("DeleteMessageBatch", func(n int, body []byte) *http.Response {
		if n <= 2 {
			return failEntries(body, "InternalError", false)
		}
		return nil
	})
	cfg.VisibilityTimeout = 2 * time.Second
	sub, ch := startSubscriber(t, cfg, url, gaws.WithSQSClient(injectedSQS(t, cfg, in)))
	const n = 5
	sendRaw(t, plain, url, "retried", n)
	for range n {
		m := recv(t, ch, 10*time.Second, "a message")
		if err := pubsub.DoneWait(t.Context(), m); err != nil {
			t.Errorf("DoneWait with the first two delete calls failing: %v", err)
		}
	}
	st := sub.Stats()
	if st.DeleteRetries == 0 || st.DeleteFailures != 0 || st.Deleted != n {
		t.Errorf("stats %+v: want retries, no failures, %d deleted", st, n)
	}
	expectNone(t, ch, 3*time.Second, "a message whose delete was retried came back")
}

// TestDeleteFailureReported makes every delete fail: DoneWait reports it,
// the failure is logged at Error and counted, and the message comes back.
func TestDeleteFailureReported(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	url := newQueue(t, plain, gaws.QueueOptions{})
	in := newInjector()
	in.on("DeleteMessageBatch", func(_ int, body []byte) *http.Response {
		return failEntries(body, "InternalError", false)
	})
	rec := &recorder{}
	cfg.VisibilityTimeout = 2 * time.Second
	sub, ch := startSubscriber(t, cfg, url, gaws.WithSQSClient(injectedSQS(t, cfg, in)), gaws.WithLogger(slog.New(rec)))
	sendRaw(t, plain, url, "doomed", 1)
	m := recv(t, ch, 10*time.Second, "the message")
	err := pubsub.DoneWait(t.Context(), m)
	if err == nil {
		t.Fatal("DoneWait = nil although every delete failed")
	}
	t.Logf("DoneWait: %v", err)
	if st := sub.Stats(); st.DeleteFailures != 1 || st.Deleted != 0 {
		t.Errorf("stats %+v: want one delete failure", st)
	}
	if !rec.has(slog.LevelError, "deleting messages failed for good") {
		t.Error("the failed delete was not logged at Error")
	}
	again := recv(t, ch, 15*time.Second, "the message whose delete failed")
	if string(again.Message()) != string(m.Message()) || again.ID() != m.ID() {
		t.Errorf("got %q (ID %s), want the message whose delete failed, %q (ID %s)", again.Message(), again.ID(), m.Message(), m.ID())
	}
	_ = again.Nack()
}

// TestPartialDeleteFailure fails one entry of each delete batch once: only
// that entry is retried.
func TestPartialDeleteFailure(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	url := newQueue(t, plain, gaws.QueueOptions{})
	in := newInjector()
	in.on("DeleteMessageBatch", func(n int, body []byte) *http.Response {
		var req struct {
			Entries []struct{ Id, ReceiptHandle string }
		}
		if n > 1 || json.Unmarshal(body, &req) != nil || len(req.Entries) < 2 {
			return nil
		}
		// Delete all but the first for real, then report the first failed.
		rest := req.Entries[1:]
		var ok []map[string]string
		for _, e := range rest {
			handle := e.ReceiptHandle
			if _, err := plain.DeleteMessage(t.Context(), &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: &handle}); err != nil {
				return nil
			}
			ok = append(ok, map[string]string{"Id": e.Id})
		}
		return jsonResponse(200, map[string]any{"Successful": ok, "Failed": []map[string]any{
			{"Id": req.Entries[0].Id, "Code": "ServiceUnavailable", "Message": "injected", "SenderFault": false}}})
	})
	cfg.VisibilityTimeout = 2 * time.Second
	cfg.DeleteDelay = time.Second // gather the whole batch
	sub, ch := startSubscriber(t, cfg, url, gaws.WithSQSClient(injectedSQS(t, cfg, in)))
	const n = 4
	sendRaw(t, plain, url, "partial", n)
	var ms []pubsub.SubscriberMessage
	for range n {
		ms = append(ms, recv(t, ch, 10*time.Second, "a message"))
	}
	for _, m := range ms {
		if err := m.Done(); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range ms {
		if err := pubsub.DoneWait(t.Context(), m); err != nil {
			t.Errorf("DoneWait: %v", err)
		}
	}
	if st := sub.Stats(); st.DeleteRetries != 1 || st.Deleted != n {
		t.Errorf("stats %+v: want exactly one entry retried and %d deleted", st, n)
	}
	expectNone(t, ch, 3*time.Second, "a deleted message came back")
}

// TestHeartbeat holds a message three times as long as its visibility
// timeout while another consumer polls the queue: the heartbeat keeps it
// invisible, and once it is Done it is gone.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	url := newQueue(t, plain, gaws.QueueOptions{})
	cfg.VisibilityTimeout = 2 * time.Second
	cfg.Heartbeat = 500 * time.Millisecond
	subA, chA := startSubscriber(t, cfg, url)
	subB, chB := startSubscriber(t, cfg, url)
	sendRaw(t, plain, url, "slow", 1)
	var m pubsub.SubscriberMessage
	owner, rival := subA, chB
	select {
	case m = <-chA:
	case m = <-chB:
		owner, rival = subB, chA
	case <-time.After(10 * time.Second):
		t.Fatal("the message was not delivered")
	}
	expectNone(t, rival, 3*cfg.VisibilityTimeout, "a message held by a slow handler reached another consumer")
	if err := pubsub.DoneWait(t.Context(), m); err != nil {
		t.Fatalf("DoneWait after holding the message for three visibility timeouts: %v", err)
	}
	expectNone(t, rival, 2*cfg.VisibilityTimeout, "a message Done after its heartbeat came back")
	if st := owner.Stats(); st.Extended < 3 {
		t.Errorf("the heartbeat extended %d times in three visibility timeouts (stats %+v)", st.Extended, st)
	}
}

// TestMaxExtension leaves a delivered message unsettled: the heartbeat
// stops at MaxExtension, the message comes back, and settling the first
// delivery reports the lost lease.
func TestMaxExtension(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	url := newQueue(t, plain, gaws.QueueOptions{})
	cfg.VisibilityTimeout = 2 * time.Second
	cfg.Heartbeat = 500 * time.Millisecond
	cfg.MaxExtension = 3 * time.Second
	rec := &recorder{}
	sub, ch := startSubscriber(t, cfg, url, gaws.WithLogger(slog.New(rec)))
	sendRaw(t, plain, url, "forgotten", 1)
	first := recv(t, ch, 10*time.Second, "the message")
	// Not before MaxExtension: the heartbeat holds it until then.
	expectNone(t, ch, cfg.MaxExtension, "the message came back before MaxExtension")
	second := recv(t, ch, 3*cfg.VisibilityTimeout, "the message after MaxExtension")
	if second.ID() != first.ID() {
		t.Fatalf("got message %s, want %s again", second.ID(), first.ID())
	}
	if err := first.Done(); !errors.Is(err, pubsub.ErrLeaseLost) {
		t.Errorf("Done of the first delivery = %v, want ErrLeaseLost", err)
	}
	if err := second.Done(); err != nil {
		t.Errorf("Done of the second delivery: %v", err)
	}
	if sub.Stats().Extended == 0 || !rec.has(slog.LevelWarn, "MaxExtension") {
		t.Errorf("stats %+v; want extensions, and a warning when MaxExtension was reached", sub.Stats())
	}
}

// TestRedeliveryEndsEarlierLease makes SQS lend a message for 1 second
// while the subscriber believes its visibility timeout is 30 (the receive
// requests are rewritten on the way): when the message comes back, settling
// the first delivery reports the lost lease although the subscriber's own
// clock says it still holds it. The redelivery, not the local deadline, is
// what proves the lease gone, however SQS's clock and ours disagree.
func TestRedeliveryEndsEarlierLease(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	url := newQueue(t, plain, gaws.QueueOptions{})
	in := newInjector()
	in.rewrite("ReceiveMessage", func(body []byte) []byte {
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			t.Errorf("ReceiveMessage body %q: %v", body, err)
			return body
		}
		req["VisibilityTimeout"] = 1
		out, _ := json.Marshal(req)
		return out
	})
	cfg.VisibilityTimeout = 30 * time.Second
	sendRaw(t, plain, url, "lent", 1)
	sub, ch := startSubscriber(t, cfg, url, gaws.WithSQSClient(injectedSQS(t, cfg, in)))
	first := recv(t, ch, 10*time.Second, "the message")
	second := recv(t, ch, 10*time.Second, "the message again, after SQS's 1-second lease")
	if second.ID() != first.ID() {
		t.Fatalf("got message %s, want %s again", second.ID(), first.ID())
	}
	if err := first.Done(); !errors.Is(err, pubsub.ErrLeaseLost) {
		t.Errorf("Done of the first delivery after SQS delivered it again = %v, want ErrLeaseLost", err)
	}
	if err := pubsub.DoneWait(t.Context(), second); err != nil {
		t.Errorf("DoneWait of the second delivery: %v", err)
	}
	if st := sub.Stats(); st.LeasesLost != 1 {
		t.Errorf("stats %+v: want 1 lease lost", st)
	}
}

// TestExtendDoneDeadlineRounds checks what ExtendDoneDeadline sends: whole
// seconds, rounded up, and no call when the lease already lasts long
// enough.
func TestExtendDoneDeadlineRounds(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	url := newQueue(t, plain, gaws.QueueOptions{})
	in := newInjector()
	cfg.VisibilityTimeout = 10 * time.Second
	_, ch := startSubscriber(t, cfg, url, gaws.WithSQSClient(injectedSQS(t, cfg, in)))
	sendRaw(t, plain, url, "extend", 1)
	m := recv(t, ch, 10*time.Second, "the message")
	if err := m.ExtendDoneDeadline(2 * time.Second); err != nil { // the lease already has ~10s
		t.Fatal(err)
	}
	if n := len(in.requests("ChangeMessageVisibility")); n != 0 {
		t.Errorf("ExtendDoneDeadline(2s) on a fresh 10s lease made %d calls, want none", n)
	}
	if err := m.ExtendDoneDeadline(12500 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	reqs := in.requests("ChangeMessageVisibility")
	if len(reqs) != 1 {
		t.Fatalf("%d ChangeMessageVisibility calls, want 1", len(reqs))
	}
	var body struct{ VisibilityTimeout int }
	if err := json.Unmarshal(reqs[0], &body); err != nil || body.VisibilityTimeout != 13 {
		t.Errorf("ExtendDoneDeadline(12.5s) sent VisibilityTimeout %d (%v), want 13", body.VisibilityTimeout, err)
	}
	if err := m.Done(); err != nil {
		t.Fatal(err)
	}
	if err := m.ExtendDoneDeadline(time.Minute); !errors.Is(err, pubsub.ErrLeaseLost) {
		t.Errorf("ExtendDoneDeadline after Done = %v, want ErrLeaseLost", err)
	}
}
