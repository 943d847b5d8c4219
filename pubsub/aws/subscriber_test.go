package aws_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"

	"github.com/seed8104ecd5/gizmo/pubsub"
	gaws "github.com/seed8104ecd5/gizmo/pubsub/aws"
)

// TestAWSConfig checks the credentials Config.AWSConfig picks: static
// keys, the default chain (here the environment), or an assumed role on
// top; and the endpoint, region and retries.
func TestAWSConfig(t *testing.T) {
	ctx := t.Context()
	t.Setenv("AWS_ACCESS_KEY_ID", "from-env")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
	static := gaws.Config{Region: "eu-west-1", Endpoint: "http://127.0.0.1:4566", AccessKeyID: "AKID", SecretAccessKey: "secret", RetryMaxAttempts: 7}
	ac, err := static.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	creds, err := ac.Credentials.Retrieve(ctx)
	if err != nil || creds.AccessKeyID != "AKID" || creds.SecretAccessKey != "secret" {
		t.Errorf("static credentials: %+v, %v", creds, err)
	}
	if ac.Region != "eu-west-1" || awssdk.ToString(ac.BaseEndpoint) != "http://127.0.0.1:4566" || ac.Retryer().MaxAttempts() != 7 {
		t.Errorf("region %q endpoint %q attempts %d", ac.Region, awssdk.ToString(ac.BaseEndpoint), ac.Retryer().MaxAttempts())
	}

	chain, err := gaws.Config{Region: "eu-west-1"}.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if creds, err := chain.Credentials.Retrieve(ctx); err != nil || creds.AccessKeyID != "from-env" {
		t.Errorf("default chain: %+v, %v; want the environment's keys", creds, err)
	}

	role, err := gaws.Config{Region: "eu-west-1", RoleARN: "arn:aws:iam::123456789012:role/reader"}.AWSConfig(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cache, ok := role.Credentials.(*awssdk.CredentialsCache)
	if !ok || !cache.IsCredentialsProvider(&stscreds.AssumeRoleProvider{}) {
		t.Errorf("with ROLE_ARN the credentials are %T, want an assumed role", role.Credentials)
	}
}

// TestNamesAndURLs resolves a queue by name and by URL, and a topic by
// name and by ARN.
func TestNamesAndURLs(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	sq, sn := clients(t, cfg)
	url := newQueue(t, sq, gaws.QueueOptions{})
	arn := newTopic(t, sn, gaws.TopicOptions{})
	for _, q := range []string{url, queueNameOf(url)} {
		c := cfg
		c.Queue = q
		s, err := gaws.NewSubscriber(t.Context(), c)
		if err != nil {
			t.Fatalf("NewSubscriber(%q): %v", q, err)
		}
		if s.QueueURL() != url {
			t.Errorf("queue %q resolved to %q, want %q", q, s.QueueURL(), url)
		}
		p, err := gaws.NewSQSPublisher(t.Context(), c)
		if err != nil || p.QueueURL() != url {
			t.Errorf("NewSQSPublisher(%q): %v, URL %q", q, err, p.QueueURL())
		}
	}
	for _, topic := range []string{arn, arn[strings.LastIndexByte(arn, ':')+1:]} {
		c := cfg
		c.Topic = topic
		p, err := gaws.NewSNSPublisher(t.Context(), c)
		if err != nil || p.TopicARN() != arn {
			t.Errorf("NewSNSPublisher(%q): %v, ARN %v", topic, err, p)
		}
	}
	c := cfg
	c.Queue = "no-such-queue-" + uniqueName(t, "")
	if _, err := gaws.NewSubscriber(t.Context(), c); !errors.Is(err, pubsub.ErrSubscriptionNotFound) {
		t.Errorf("a missing queue: %v, want ErrSubscriptionNotFound", err)
	}
	c.Topic = arn + "-missing"
	if _, err := gaws.NewSNSPublisher(t.Context(), c); !errors.Is(err, pubsub.ErrTopicNotFound) {
		t.Errorf("a missing topic: %v, want ErrTopicNotFound", err)
	}
}

func queueNameOf(url string) string { return url[strings.LastIndexByte(url, '/')+1:] }

// TestReceiveErrorsRetried makes receives fail with server errors: the
// subscriber retries them and delivers once they pass, instead of ending.
func TestReceiveErrorsRetried(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	url := newQueue(t, plain, gaws.QueueOptions{})
	in := newInjector()
	in.on("ReceiveMessage", func(n int, _ []byte) *http.Response {
		if n <= 5 {
			return jsonResponse(500, map[string]string{"__type": "com.amazonaws.sqs#InternalError", "message": "injected"})
		}
		return nil
	})
	cfg.RetryMaxAttempts = 1 // every injected failure reaches the subscriber
	cfg.Receivers = 1
	cfg.WaitTime = time.Second
	sub, ch := startSubscriber(t, cfg, url, gaws.WithSQSClient(injectedSQS(t, cfg, in)))
	sendRaw(t, plain, url, "after-errors", 1)
	m := recv(t, ch, 30*time.Second, "the message after five failed receives")
	_ = m.Done()
	if st := sub.Stats(); st.ReceiveErrors != 5 {
		t.Errorf("%d receive errors counted, want 5", st.ReceiveErrors)
	}
}

// TestAccessDeniedEndsSubscriber: denied access is not retried; the
// subscriber ends and Err wraps ErrAccessDenied.
func TestAccessDeniedEndsSubscriber(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	plain, _ := clients(t, cfg)
	url := newQueue(t, plain, gaws.QueueOptions{})
	in := newInjector()
	in.on("ReceiveMessage", func(int, []byte) *http.Response {
		r := jsonResponse(400, map[string]string{"__type": "com.amazonaws.sqs#AccessDenied", "message": "injected"})
		r.Header.Set("X-Amzn-Query-Error", "AccessDenied;Sender")
		return r
	})
	sub, ch := startSubscriber(t, cfg, url, gaws.WithSQSClient(injectedSQS(t, cfg, in)))
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("a message although every receive is denied")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the subscriber did not end on denied access")
	}
	if err := sub.Err(); !errors.Is(err, gaws.ErrAccessDenied) || !errors.Is(err, pubsub.ErrAccessDenied) {
		t.Errorf("Err = %v, want ErrAccessDenied, aws's and the portable one", err)
	}
}

// TestStopMidStream stops a subscriber while its handlers hold some
// messages unsettled and others are prefetched: Stop reports the drain
// timeout, flushes the deletes of what was Done, and the next subscriber
// gets every other message and none of the Done ones.
func TestStopMidStream(t *testing.T) {
	t.Parallel()
	cfg := sharedConfig(t)
	sq, _ := clients(t, cfg)
	url := newQueue(t, sq, gaws.QueueOptions{})
	const n = 200
	all := sendBatch(t, sq, url, "stop", n)
	cfg.VisibilityTimeout = 20 * time.Second // so that only Stop can bring messages back soon
	cfg.WaitTime = time.Second
	cfg.DeleteDelay = 500 * time.Millisecond // deletes are still pending at Stop
	sub, ch := startSubscriber(t, cfg, url)
	var mu sync.Mutex
	done, held, seen := map[string]bool{}, 0, 0
	ready := make(chan struct{}) // closed once some are Done and some held
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for m := range ch {
				mu.Lock()
				seen++
				hold := seen%2 == 0
				if hold {
					held++ // never settled
				} else {
					done[string(m.Message())] = true
				}
				if len(done) >= 20 && held >= 5 && !isClosed(ready) {
					close(ready)
				}
				mu.Unlock()
				if !hold {
					if err := m.Done(); err != nil {
						t.Errorf("Done: %v", err)
					}
				}
			}
		})
	}
	select {
	case <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the handlers did not get 30 messages")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	err := sub.Stop(ctx)
	cancel()
	if !errors.Is(err, pubsub.ErrDrainTimeout) {
		t.Errorf("Stop with held messages = %v, want ErrDrainTimeout", err)
	}
	wg.Wait()
	_, next := startSubscriber(t, cfg, url)
	got := map[string]bool{}
	deadline := time.After(30 * time.Second)
	for len(got)+len(done) < len(all) {
		select {
		case m := <-next:
			if done[string(m.Message())] {
				t.Errorf("%s came back although it was Done before Stop", m.Message())
			}
			got[string(m.Message())] = true
			_ = m.Done()
		case <-deadline:
			t.Fatalf("%d Done before Stop, %d came back; %d lost", len(done), len(got), len(all)-len(done)-len(got))
		}
	}
	t.Logf("stop: %d Done before Stop, %d held, %d came back to the next subscriber, none lost", len(done), held, len(got))
}

func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
