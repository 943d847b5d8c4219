package http_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strconv"

	"github.com/seed8104ecd5/gizmo/config"
	"github.com/seed8104ecd5/gizmo/pubsub"
	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
	"github.com/seed8104ecd5/gizmo/server"
)

// Example connects a publisher and a push subscriber mounted on a plain
// http.ServeMux, with pubsub.Consume handling the messages. Publish
// returns once the handler has handled the message, so the lines print in
// publish order.
func Example() {
	sub, err := pubsubhttp.NewSubscriber(pubsubhttp.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	mux := http.NewServeMux()
	mux.Handle("POST /push", sub)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	consumed := make(chan error, 1)
	go func() {
		consumed <- pubsub.Consume(ctx, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
			fmt.Printf("%s line %s: %s\n", m.Key(), m.Attributes()["line"], m.Message())
			return nil
		})
	}()

	pub, err := pubsubhttp.NewPublisher(ctx, pubsubhttp.Config{URL: "http://" + ln.Addr().String() + "/push"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pub.Close()
	for i, item := range []string{"apple", "pear", "plum"} {
		if err := pub.PublishRaw(ctx, "customer-7", []byte(item), pubsub.WithAttribute("line", strconv.Itoa(i+1))); err != nil {
			fmt.Println(err)
			return
		}
	}
	cancel() // a real daemon cancels on SIGTERM
	fmt.Println("Consume returned:", <-consumed)

	// Output:
	// customer-7 line 1: apple
	// customer-7 line 2: pear
	// customer-7 line 3: plum
	// Consume returned: <nil>
}

// pushService mounts a push subscriber on a server.SimpleServer as
// POST /push.
type pushService struct{ sub *pubsubhttp.Subscriber }

func (pushService) Prefix() string                         { return "/push" }
func (pushService) Middleware(h http.Handler) http.Handler { return h }
func (s pushService) Endpoints() []server.Endpoint {
	return []server.Endpoint{{Method: http.MethodPost, Path: "", Handler: s.sub}}
}

// Example_simpleServer mounts a push subscriber on a server.SimpleServer,
// with its readiness in the server's, so the server gets the access log,
// metrics, limits and graceful shutdown.
func Example_simpleServer() {
	sub, err := pubsubhttp.NewSubscriber(pubsubhttp.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := server.NewSimpleServer(server.Config{}, server.WithListener(ln))
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := srv.Register(pushService{sub}); err != nil {
		fmt.Println(err)
		return
	}
	srv.AddReadinessCheck("push", sub.Ready)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	go func() { served <- srv.Run(ctx) }()
	consumeCtx, stopConsuming := context.WithCancel(ctx)
	defer stopConsuming()
	consumed := make(chan error, 1)
	go func() {
		consumed <- pubsub.Consume(consumeCtx, sub, func(_ context.Context, m pubsub.SubscriberMessage) error {
			fmt.Printf("handled %s (ID %s)\n", m.Message(), m.ID())
			return nil
		})
	}()

	pub, err := pubsubhttp.NewPublisher(ctx, pubsubhttp.Config{URL: "http://" + ln.Addr().String() + "/push"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer pub.Close()
	err = pub.PublishRaw(ctx, "", []byte("hello"), pubsub.WithDeduplicationID("greeting-1"))
	fmt.Println("publish:", err)

	// Stop consuming first, so that answers are written while the server
	// still serves; then shut the server down.
	stopConsuming()
	fmt.Println("Consume returned:", <-consumed)
	cancel()
	fmt.Println("Run returned:", <-served)

	// Output:
	// handled hello (ID greeting-1)
	// publish: <nil>
	// Consume returned: <nil>
	// Run returned: <nil>
}

// ExampleConfig loads a Config with package config: the default tags,
// then the environment (PUSH_URL, PUSH_FORMAT, PUSH_ACK_DEADLINE, ...).
func ExampleConfig() {
	os.Setenv("PUSH_URL", "https://orders.internal.example/push")
	os.Setenv("PUSH_FORMAT", "pubsub")
	os.Setenv("PUSH_SECRET", "s3cret")
	defer os.Unsetenv("PUSH_URL")
	defer os.Unsetenv("PUSH_FORMAT")
	defer os.Unsetenv("PUSH_SECRET")

	var cfg pubsubhttp.Config
	if err := config.Load(context.Background(), &cfg, config.Defaults(), config.Env("PUSH")); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(cfg.URL, cfg.Format, cfg.AttemptTimeout, cfg.AckDeadline, cfg.Formats)
	fmt.Println(config.Redact(cfg).(pubsubhttp.Config).Secret)

	// Output:
	// https://orders.internal.example/push pubsub 30s 10s [raw pubsub]
	// [REDACTED]
}
