package aws_test

import (
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

type sentBatch struct {
	Entries []struct {
		Id, MessageBody, MessageGroupId string
	}
}

func decodeBatch(t testing.TB, body []byte) sentBatch {
	t.Helper()
	var b sentBatch
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPublishBatchSplitsAndRetries publishes 25 messages: three calls of at
// most ten, and an entry that fails with a server fault is sent again.
func TestPublishBatchSplitsAndRetries(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	queue := newQueue(t, plain, gaws.QueueOptions{})
	in := newInjector()
	var firstFailed bool
	in.on("SendMessageBatch", func(n int, body []byte) *http.Response {
		if n != 1 {
			return nil
		}
		b := decodeBatch(t, body)
		firstFailed = true
		ok := []map[string]string{}
		for _, e := range b.Entries {
			if e.Id == "3" {
				continue
			}
			body := e.MessageBody
			if _, err := plain.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &queue, MessageBody: &body}); err != nil {
				return nil
			}
			ok = append(ok, map[string]string{"Id": e.Id, "MessageId": "m" + e.Id, "MD5OfMessageBody": md5Hex(e.MessageBody)})
		}
		return jsonResponse(200, map[string]any{"Successful": ok, "Failed": []map[string]any{
			{"Id": "3", "Code": "ServiceUnavailable", "Message": "injected", "SenderFault": false}}})
	})
	pcfg := cfg
	pcfg.Queue = queue
	pub, err := gaws.NewSQSPublisher(t.Context(), pcfg, gaws.WithSQSClient(injectedSQS(t, cfg, in)))
	if err != nil {
		t.Fatal(err)
	}
	var msgs []pubsub.Message
	want := map[string]bool{}
	for i := range 25 {
		p := fmt.Sprintf("batch-%d", i)
		msgs = append(msgs, pubsub.Message{Key: "same", Payload: []byte(p)})
		want[p] = true
	}
	if err := pub.PublishBatch(t.Context(), msgs); err != nil {
		t.Fatalf("PublishBatch: %v", err)
	}
	calls := in.requests("SendMessageBatch")
	var sizes []int
	for _, c := range calls {
		sizes = append(sizes, len(decodeBatch(t, c).Entries))
	}
	if !firstFailed || fmt.Sprint(sizes) != "[10 1 10 5]" {
		t.Errorf("calls of %v entries; want 10, the retried entry, 10, 5", sizes)
	}
	_, ch := startSubscriber(t, cfg, queue)
	for len(want) > 0 {
		m := recv(t, ch, 10*time.Second, "the batch")
		delete(want, string(m.Message()))
		_ = m.Done()
	}
}

// TestPublishBatchBlocksKey fails a FIFO message for good: the later
// messages of its key are not sent, and fail with ErrKeyBlocked; other keys
// go on.
func TestPublishBatchBlocksKey(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	queue := newQueue(t, plain, gaws.QueueOptions{FIFO: true})
	in := newInjector()
	in.on("SendMessageBatch", func(n int, body []byte) *http.Response {
		if n != 1 {
			return nil
		}
		b := decodeBatch(t, body)
		var ok, failed []map[string]any
		for _, e := range b.Entries {
			if e.MessageGroupId == "A" {
				failed = append(failed, map[string]any{"Id": e.Id, "Code": "InvalidParameterValue", "Message": "injected", "SenderFault": true})
			} else {
				ok = append(ok, map[string]any{"Id": e.Id, "MessageId": "m", "MD5OfMessageBody": md5Hex(e.MessageBody)})
			}
		}
		return jsonResponse(200, map[string]any{"Successful": ok, "Failed": failed})
	})
	pcfg := cfg
	pcfg.Queue = queue
	pub, err := gaws.NewSQSPublisher(t.Context(), pcfg, gaws.WithSQSClient(injectedSQS(t, cfg, in)))
	if err != nil {
		t.Fatal(err)
	}
	msgs := []pubsub.Message{
		{Key: "A", Payload: []byte("A1")}, {Key: "B", Payload: []byte("B1")},
		{Key: "A", Payload: []byte("A2")}, {Key: "B", Payload: []byte("B2")}, {Key: "A", Payload: []byte("A3")},
	}
	err = pub.PublishBatch(t.Context(), msgs)
	var be *pubsub.BatchError
	if !errors.As(err, &be) || len(be.Errs) != len(msgs) {
		t.Fatalf("PublishBatch = %v, want a BatchError", err)
	}
	if be.Errs[0] == nil || errors.Is(be.Errs[0], pubsub.ErrKeyBlocked) || be.Errs[1] != nil || be.Errs[3] != nil ||
		!errors.Is(be.Errs[2], pubsub.ErrKeyBlocked) || !errors.Is(be.Errs[4], pubsub.ErrKeyBlocked) {
		t.Errorf("errors %v; want A1 failed, A2 and A3 blocked, B1 and B2 sent", be.Errs)
	}
	for i, c := range in.requests("SendMessageBatch") {
		for _, e := range decodeBatch(t, c).Entries {
			if e.MessageGroupId == "A" && i > 0 {
				t.Errorf("call %d sent %s after A1 failed", i+1, e.MessageBody)
			}
			if e.MessageGroupId == "A" && e.MessageBody != "A1" {
				t.Errorf("sent %s", e.MessageBody)
			}
		}
	}
	_, ch := startSubscriber(t, cfg, queue)
	m := recv(t, ch, 10*time.Second, "B2")
	if string(m.Message()) != "B2" {
		t.Errorf("got %q, want B2 (B1's success was faked)", m.Message())
	}
	_ = m.Done()
}

// md5Hex is the MD5 of a body, which the SDK checks in send responses.
func md5Hex(body string) string {
	sum := md5.Sum([]byte(body))
	return hex.EncodeToString(sum[:])
}
