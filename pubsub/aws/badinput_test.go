package aws_test

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

// oddTarget is a queue and a publisher that reaches it.
type oddTarget struct {
	queue string
	pub   pubsub.Publisher
	limit int
}

func oddTargets(t *testing.T, cfg gaws.Config) map[string]oddTarget {
	t.Helper()
	sq, sn := clients(t, cfg)
	queue := newQueue(t, sq, gaws.QueueOptions{})
	pcfg := cfg
	pcfg.Queue = queue
	qp, err := gaws.NewSQSPublisher(t.Context(), pcfg, gaws.WithSQSClient(sq))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]oddTarget{"SQS": {queue, qp, gaws.MaxSQSMessageBytes}}
	for _, raw := range []bool{false, true} {
		topic := newTopic(t, sn, gaws.TopicOptions{})
		q := newQueue(t, sq, gaws.QueueOptions{})
		if _, err := gaws.EnsureSubscription(t.Context(), sn, sq, topic, q, gaws.SubscriptionOptions{RawDelivery: raw}); err != nil {
			t.Fatal(err)
		}
		pcfg := cfg
		pcfg.Topic = topic
		tp, err := gaws.NewSNSPublisher(t.Context(), pcfg, gaws.WithSNSClient(sn))
		if err != nil {
			t.Fatal(err)
		}
		out[map[bool]string{false: "SNS envelope", true: "SNS raw"}[raw]] = oddTarget{q, tp, gaws.MaxSNSMessageBytes}
	}
	return out
}

// TestOddInputs sends what SQS cannot carry as it is, and what is right at
// and just past its limits, to a queue directly and through SNS (envelope
// and raw): attribute names that need escaping, binary and empty payloads,
// ten or more attributes, and a message exactly at the size limit and one
// byte over.
func TestOddInputs(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	for name, tg := range oddTargets(t, cfg) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			type sent struct {
				key     string
				payload []byte
				attrs   map[string]string
			}
			var want []sent
			send := func(key string, payload []byte, attrs map[string]string) {
				t.Helper()
				if err := tg.pub.PublishRaw(ctx, key, payload, pubsub.WithAttributes(attrs)); err != nil {
					t.Fatalf("PublishRaw(%q, %d bytes, %d attributes): %v", key, len(payload), len(attrs), err)
				}
				want = append(want, sent{key, payload, attrs})
			}
			send("escapes", []byte("names"), map[string]string{
				"with space": "v", "ünïcødé": "w", "AWS.reserved": "x", ".dots..": "y", "emoji🔑": "",
			})
			send("binary", []byte{0, 1, 2, 0xff, 0xfe, '\n'}, map[string]string{"kind": "binary"})
			send("empty", []byte{}, map[string]string{"kind": "empty"})
			send("", []byte("\x00 control \x07 characters"), nil)

			eight := map[string]string{}
			for i := range 8 {
				eight[fmt.Sprintf("attr-%d", i)] = "v"
			}
			send("key", []byte{0xff}, eight) // 8 + key + encoding flag = 10
			nine := maps.Clone(eight)
			nine["attr-8"] = "v"
			err := tg.pub.PublishRaw(ctx, "key", []byte{0xff}, pubsub.WithAttributes(nine))
			if !errors.Is(err, pubsub.ErrTooLarge) || !strings.Contains(err.Error(), "SQS allows 10") {
				t.Errorf("9 attributes with a key and a binary payload: %v, want ErrTooLarge saying SQS allows 10", err)
			}
			ten := maps.Clone(nine)
			ten["attr-9"] = "v"
			if err := tg.pub.PublishRaw(ctx, "", []byte("text"), pubsub.WithAttributes(ten)); err != nil {
				t.Errorf("10 attributes, no key, a text payload (10 on the wire): %v", err)
			} else {
				want = append(want, sent{"", []byte("text"), maps.Clone(ten)})
			}
			ten["attr-10"] = "v"
			if err := tg.pub.PublishRaw(ctx, "", []byte("text"), pubsub.WithAttributes(ten)); !errors.Is(err, pubsub.ErrTooLarge) {
				t.Errorf("11 attributes: %v, want ErrTooLarge", err)
			}

			// At the size limit, counted as AWS counts: body plus each
			// attribute's name, data type ("String") and value.
			key := "sized"
			atLimit := bytes.Repeat([]byte("s"), tg.limit-len(pubsub.AttrKey)-len("String")-len(key))
			send(key, atLimit, nil)
			over := append(atLimit, 's')
			if err := tg.pub.PublishRaw(ctx, key, over); !errors.Is(err, pubsub.ErrTooLarge) {
				t.Errorf("one byte over the limit: %v, want ErrTooLarge", err)
			}

			_, ch := startSubscriber(t, cfg, tg.queue)
			for len(want) > 0 {
				m := recv(t, ch, 15*time.Second, fmt.Sprintf("the %d messages still missing", len(want)))
				found := false
				for i, w := range want {
					if bytes.Equal(m.Message(), w.payload) && m.Key() == w.key && (maps.Equal(m.Attributes(), w.attrs) || len(w.attrs) == 0 && len(m.Attributes()) == 0) {
						want = append(want[:i], want[i+1:]...)
						found = true
						break
					}
				}
				if !found {
					t.Errorf("unexpected or mangled message: key %q payload %.40q (%d bytes) attributes %q", m.Key(), m.Message(), len(m.Message()), m.Attributes())
				}
				if err := m.(*gaws.Message).DecodeError(); err != nil {
					t.Errorf("DecodeError: %v", err)
				}
				_ = m.Done()
			}
		})
	}
}

// TestWireFormat reads with the SDK what the publisher sent, to check
// what other consumers of the queue see: UTF-8 as it is, attribute names
// SQS accepts, the key in gizmo-key, base64 flagged by gizmo-enc.
func TestWireFormat(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	sq, _ := clients(t, cfg)
	queue := newQueue(t, sq, gaws.QueueOptions{})
	pcfg := cfg
	pcfg.Queue = queue
	p, err := gaws.NewSQSPublisher(t.Context(), pcfg, gaws.WithSQSClient(sq))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.PublishRaw(t.Context(), "clé", []byte("plain ✓ text"), pubsub.WithAttributes(map[string]string{"ok_name": "v", "bad name": "w"})); err != nil {
		t.Fatal(err)
	}
	if err := p.PublishRaw(t.Context(), "", []byte{0xff}); err != nil {
		t.Fatal(err)
	}
	out, err := sq.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &queue, MaxNumberOfMessages: 10, WaitTimeSeconds: 5, MessageAttributeNames: []string{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	for len(out.Messages) < 2 {
		more, err := sq.ReceiveMessage(t.Context(), &sqs.ReceiveMessageInput{QueueUrl: &queue, MaxNumberOfMessages: 10, WaitTimeSeconds: 5, MessageAttributeNames: []string{"All"}})
		if err != nil || len(more.Messages) == 0 {
			t.Fatalf("receive: %v", err)
		}
		out.Messages = append(out.Messages, more.Messages...)
	}
	for _, m := range out.Messages {
		a := m.MessageAttributes
		str := func(n string) string {
			if v, ok := a[n]; ok && v.StringValue != nil {
				return *v.StringValue
			}
			return ""
		}
		switch *m.Body {
		case "plain ✓ text":
			if str(pubsub.AttrKey) != "clé" || str("ok_name") != "v" || str("gizmo-enc") != "" {
				t.Errorf("text message's attributes on the wire: %v", attrNames(a))
			}
			if _, ok := a["bad name"]; ok {
				t.Errorf("an attribute name SQS refuses went as it is")
			}
		case "/w==":
			if str("gizmo-enc") != "base64" {
				t.Errorf("binary message without the base64 flag: %v", attrNames(a))
			}
		default:
			t.Errorf("unexpected body on the wire: %q", *m.Body)
		}
	}
}

func attrNames(a map[string]sqstypes.MessageAttributeValue) []string {
	var out []string
	for n, v := range a {
		out = append(out, fmt.Sprintf("%s=%s", n, *v.StringValue))
	}
	return out
}

// TestLimitsMatchServer checks the adapter's size limits against the
// server: fauxqs, like AWS, takes a body of exactly the limit and refuses
// one byte more.
func TestLimitsMatchServer(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	sq, sn := clients(t, cfg)
	queue := newQueue(t, sq, gaws.QueueOptions{})
	topic := newTopic(t, sn, gaws.TopicOptions{})
	for _, tc := range []struct {
		name  string
		limit int
		send  func(body string) error
	}{
		{"SQS", gaws.MaxSQSMessageBytes, func(body string) error {
			_, err := sq.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &queue, MessageBody: &body})
			return err
		}},
		{"SNS", gaws.MaxSNSMessageBytes, func(body string) error {
			_, err := sn.Publish(t.Context(), &sns.PublishInput{TopicArn: &topic, Message: &body})
			return err
		}},
	} {
		if err := tc.send(strings.Repeat("x", tc.limit)); err != nil {
			t.Errorf("%s: the server refused a body of exactly %d bytes: %v", tc.name, tc.limit, err)
		}
		if err := tc.send(strings.Repeat("x", tc.limit+1)); err == nil {
			t.Errorf("%s: the server took a body of %d bytes, one over the adapter's limit", tc.name, tc.limit+1)
		}
	}
}
