package aws_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

// TestDeadLetterQueue follows a poison message through both kinds of dead
// lettering. Consume gives up on it and publishes it, with the runner's
// gizmo-dead-letter attribute, to a queue whose consumer also fails it;
// that queue's redrive policy then moves it to a dead-letter queue after
// its maxReceiveCount. What arrives there is the message as published,
// key, binary payload and attributes, with the runner's dead-letter
// information intact.
func TestDeadLetterQueue(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	sq, _ := clients(t, cfg)
	ctx := t.Context()
	work := newQueue(t, sq, gaws.QueueOptions{})
	dlq := newQueue(t, sq, gaws.QueueOptions{})
	dlqARN, err := gaws.QueueARN(ctx, sq, dlq)
	if err != nil {
		t.Fatal(err)
	}
	const maxReceives = 2
	parked := newQueue(t, sq, gaws.QueueOptions{DeadLetterARN: dlqARN, MaxReceiveCount: maxReceives})

	publisher := func(queue string) *gaws.SQSPublisher {
		pcfg := cfg
		pcfg.Queue = queue
		p, err := gaws.NewSQSPublisher(ctx, pcfg, gaws.WithSQSClient(sq))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	payload := []byte{0xff, 0x00, 'p', 'o', 'i', 's', 'o', 'n'}
	attrs := map[string]string{"kind": "poison", "odd name ✓": "value"}
	if err := publisher(work).PublishRaw(ctx, "order-9", payload, pubsub.WithAttributes(attrs)); err != nil {
		t.Fatal(err)
	}

	// Stage 1: Consume fails it three times and dead-letters it to parked.
	scfg := cfg
	scfg.VisibilityTimeout = 5 * time.Second
	scfg.Queue = work
	sub, err := gaws.NewSubscriber(ctx, scfg, gaws.WithSQSClient(sq))
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithCancel(ctx)
	attempts := 0
	consumed := make(chan error, 1)
	go func() {
		consumed <- pubsub.Consume(cctx, sub, func(context.Context, pubsub.SubscriberMessage) error {
			attempts++
			if attempts == 3 {
				defer cancel() // the third attempt is the last one
			}
			return errors.New("poisoned")
		}, pubsub.WithConcurrency(1), pubsub.WithDeadLetter(publisher(parked)), pubsub.WithDrainTimeout(5*time.Second),
			pubsub.WithRetry(pubsub.RetryPolicy{MaxAttempts: 3, InitialBackoff: 10 * time.Millisecond, Jitter: -1}))
	}()
	if err := <-consumed; err != nil {
		t.Fatalf("Consume: %v", err)
	}

	// Stage 2: parked's consumer fails it until SQS redrives it.
	pcfg := scfg
	pcfg.VisibilityTimeout = 2 * time.Second
	_, pch := startSubscriber(t, pcfg, parked)
	for i := range maxReceives {
		m := recv(t, pch, 15*time.Second, "the dead-lettered message on the parking queue")
		if a := m.(pubsub.DeliveryAttempter).DeliveryAttempt(); a != i+1 {
			t.Errorf("receive %d: DeliveryAttempt %d", i+1, a)
		}
		if err := m.Nack(); err != nil {
			t.Fatal(err)
		}
	}

	// Stage 3: the dead-letter queue has it, whole.
	_, dch := startSubscriber(t, pcfg, dlq)
	m := recv(t, dch, 15*time.Second, "the message on the redrive policy's dead-letter queue")
	want := maps.Clone(attrs)
	info, ok, err := pubsub.ParseDeadLetter(m.Attributes())
	if !ok || err != nil {
		t.Fatalf("attributes %q: ParseDeadLetter = %v, %v", m.Attributes(), ok, err)
	}
	want[pubsub.AttrDeadLetter] = m.Attributes()[pubsub.AttrDeadLetter]
	if !bytes.Equal(m.Message(), payload) || m.Key() != "order-9" || !maps.Equal(m.Attributes(), want) {
		t.Errorf("on the dead-letter queue: payload %q key %q attributes %q; want %q %q %q", m.Message(), m.Key(), m.Attributes(), payload, "order-9", want)
	}
	if info.Attempts != 3 || info.Error != "poisoned" || info.MessageID == "" {
		t.Errorf("dead-letter info %+v: want 3 attempts, the error and the message ID", info)
	}
	if err := m.Done(); err != nil {
		t.Fatal(err)
	}
}
