package aws_test

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sns"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

// TestGizmoCompat moves a service off NYT Gizmo's format one side at a
// time. An old Gizmo publisher (emulated with the SDK exactly as Gizmo
// called it: base64 Message, key in Subject) is read by a subscriber with
// GizmoCompat; a publisher with GizmoCompat writes what old Gizmo readers
// expect (a base64 body) and what every gizmo subscriber reads.
func TestGizmoCompat(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	sq, sn := clients(t, cfg)
	ctx := t.Context()
	topic := newTopic(t, sn, gaws.TopicOptions{})
	envelopeQ := newQueue(t, sq, gaws.QueueOptions{})
	rawQ := newQueue(t, sq, gaws.QueueOptions{})
	for q, raw := range map[string]bool{envelopeQ: false, rawQ: true} {
		if _, err := gaws.EnsureSubscription(ctx, sn, sq, topic, q, gaws.SubscriptionOptions{RawDelivery: raw}); err != nil {
			t.Fatal(err)
		}
	}
	cfg.WaitTime = time.Second // stopped subscribers' last polls end soon
	compat := cfg
	compat.GizmoCompat = true

	// Old Gizmo's SNS publisher.
	payload := []byte{0x08, 0x96, 0x01} // a protobuf, not UTF-8
	msg := base64.StdEncoding.EncodeToString(payload)
	if _, err := sn.Publish(ctx, &sns.PublishInput{TopicArn: &topic, Subject: awssdk.String("user-42"), Message: &msg}); err != nil {
		t.Fatal(err)
	}
	esub, ech := startSubscriber(t, compat, envelopeQ)
	m := recv(t, ech, 10*time.Second, "old Gizmo's message, in the envelope")
	if string(m.Message()) != string(payload) || m.Key() != "user-42" {
		t.Errorf("with GizmoCompat, envelope: payload %x key %q; want %x and the Subject", m.Message(), m.Key(), payload)
	}
	_ = m.Done()
	rsub, rch := startSubscriber(t, compat, rawQ)
	m = recv(t, rch, 10*time.Second, "old Gizmo's message, raw")
	if string(m.Message()) != string(payload) {
		t.Errorf("with GizmoCompat, raw delivery: payload %x, want %x", m.Message(), payload)
	}
	_ = m.Done()
	for _, s := range []*gaws.Subscriber{esub, rsub} {
		if err := s.Stop(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// A gizmo publisher with GizmoCompat.
	pcfg := compat
	pcfg.Topic = topic
	pub, err := gaws.NewSNSPublisher(ctx, pcfg, gaws.WithSNSClient(sn))
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.PublishRaw(ctx, "user-7", []byte("hello"), pubsub.WithAttribute("a", "1")); err != nil {
		t.Fatal(err)
	}
	// What old Gizmo's SQS subscriber read: the body, base64-decoded.
	out, err := sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &rawQ, WaitTimeSeconds: 10, MaxNumberOfMessages: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v, %d messages", err, len(out.Messages))
	}
	if b, err := base64.StdEncoding.DecodeString(*out.Messages[0].Body); err != nil || string(b) != "hello" {
		t.Errorf("body %q: old Gizmo readers base64-decode it to %q, %v", *out.Messages[0].Body, b, err)
	}
	// The envelope carries the key in the Subject, as old Gizmo wrote it.
	out, err = sq.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &envelopeQ, WaitTimeSeconds: 10, MaxNumberOfMessages: 1})
	if err != nil || len(out.Messages) != 1 {
		t.Fatalf("receive: %v, %d messages", err, len(out.Messages))
	}
	var env struct{ Subject, Message string }
	if err := json.Unmarshal([]byte(*out.Messages[0].Body), &env); err != nil || env.Subject != "user-7" || env.Message != base64.StdEncoding.EncodeToString([]byte("hello")) {
		t.Errorf("envelope %s: want Subject user-7 and a base64 Message (%v)", *out.Messages[0].Body, err)
	}
	if _, err := sq.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
		QueueUrl: &envelopeQ, ReceiptHandle: out.Messages[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	// A subscriber without the option reads it too: the body is flagged.
	_, plain := startSubscriber(t, cfg, envelopeQ)
	m = recv(t, plain, 10*time.Second, "the compat message without GizmoCompat")
	if string(m.Message()) != "hello" || m.Key() != "user-7" || m.Attributes()["a"] != "1" {
		t.Errorf("payload %q key %q attributes %q", m.Message(), m.Key(), m.Attributes())
	}
	_ = m.Done()

	if err := pub.PublishRaw(ctx, strings.Repeat("k", 100), []byte("x")); err == nil {
		t.Error("a key too long for the Subject was published in Gizmo's format")
	}
}
