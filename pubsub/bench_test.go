package pubsub

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The benchmarks compare Consume with the bare loop
//
//	for m := range ch { h(ctx, m); m.Done() }
//
// over the same pre-filled channel of pre-built messages and a trivial
// handler, so the difference per message is the runner's overhead. One
// benchmark op is one message.

type benchMsg struct {
	key   string
	dones atomic.Int32
}

func (m *benchMsg) Message() []byte                        { return nil }
func (m *benchMsg) Key() string                            { return m.key }
func (m *benchMsg) Attributes() map[string]string          { return nil }
func (m *benchMsg) ID() string                             { return m.key }
func (m *benchMsg) Done() error                            { m.dones.Add(1); return nil }
func (m *benchMsg) Nack() error                            { return nil }
func (m *benchMsg) ExtendDoneDeadline(time.Duration) error { return nil }

// Settlement is what gizmo's backends report; without it Consume would
// wrap each message to track its settlement.
func (m *benchMsg) Settlement() Settlement {
	if m.dones.Load() > 0 {
		return Acked
	}
	return Unsettled
}

// benchSub delivers a channel that was filled and closed up front.
type benchSub struct{ ch chan SubscriberMessage }

func (s benchSub) Start() <-chan SubscriberMessage { return s.ch }
func (s benchSub) Err() error                      { return nil }
func (s benchSub) Stop(context.Context) error      { return nil }

const benchPool = 4096

func benchChannel(b *testing.B, pool []*benchMsg) chan SubscriberMessage {
	b.Helper()
	ch := make(chan SubscriberMessage, b.N)
	for i := range b.N {
		ch <- pool[i%len(pool)]
	}
	close(ch)
	return ch
}

func newBenchPool(keys int) []*benchMsg {
	pool := make([]*benchMsg, benchPool)
	for i := range pool {
		pool[i] = &benchMsg{key: fmt.Sprint("key-", i%keys)}
	}
	return pool
}

func trivialHandler(context.Context, SubscriberMessage) error { return nil }

func benchConcurrencies() []int {
	if p := runtime.GOMAXPROCS(0); p > 1 {
		return []int{1, p}
	}
	return []int{1}
}

func BenchmarkBareLoop(b *testing.B) {
	pool := newBenchPool(64)
	for _, c := range benchConcurrencies() {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			ch := benchChannel(b, pool)
			ctx := context.Background()
			h := Handler(trivialHandler)
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			for range c {
				wg.Go(func() {
					for m := range ch {
						_ = h(ctx, m)
						_ = m.Done()
					}
				})
			}
			wg.Wait()
		})
	}
}

func BenchmarkConsume(b *testing.B) { benchConsume(b) }

// BenchmarkConsumeOrdered adds WithOrderedKeys, which hands each message
// from a dispatcher goroutine to the goroutine of its key (64 keys).
func BenchmarkConsumeOrdered(b *testing.B) { benchConsume(b, WithOrderedKeys()) }

func benchConsume(b *testing.B, extra ...ConsumeOption) {
	pool := newBenchPool(64)
	for _, c := range benchConcurrencies() {
		b.Run(fmt.Sprintf("c=%d", c), func(b *testing.B) {
			sub := benchSub{ch: benchChannel(b, pool)}
			opts := append([]ConsumeOption{WithConcurrency(c)}, extra...)
			b.ReportAllocs()
			b.ResetTimer()
			if err := Consume(context.Background(), sub, trivialHandler, opts...); err != nil {
				b.Fatal(err)
			}
		})
	}
}
