package http

import (
	"context"
	"sync"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/pubsub/internal/wire"
)

// PublishBatch publishes msgs with up to Config.Concurrency requests in
// flight, and returns nil once every message was accepted, or a
// *pubsub.BatchError with an error per message. The messages of one key
// are sent one after another, each once the one before was accepted, so
// they arrive in order, and once one fails the later ones of its key are
// not sent (their errors wrap pubsub.ErrKeyBlocked). Messages with an
// empty key, and different keys, go concurrently.
func (p *Publisher) PublishBatch(ctx context.Context, msgs []pubsub.Message) error {
	if len(msgs) == 0 {
		return nil
	}
	errs := make([]error, len(msgs))
	if err := p.begin(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return &pubsub.BatchError{Errs: errs}
	}
	defer p.active.Done()

	// One run per non-empty key, in order; one per message without a key.
	var runs [][]int
	byKey := make(map[string]int)
	for i, m := range msgs {
		if m.Key == "" {
			runs = append(runs, []int{i})
			continue
		}
		r, ok := byKey[m.Key]
		if !ok {
			r = len(runs)
			byKey[m.Key] = r
			runs = append(runs, nil)
		}
		runs[r] = append(runs[r], i)
	}

	var gateMu sync.Mutex
	var gate wire.KeyGate
	work := make(chan []int)
	var wg sync.WaitGroup
	for range min(p.cfg.Concurrency, len(runs)) {
		wg.Go(func() {
			for run := range work {
				for _, i := range run {
					m := &msgs[i]
					gateMu.Lock()
					err := gate.Check(m.Key)
					gateMu.Unlock()
					if err == nil {
						err = p.publish(ctx, m.Key, m.Payload, m.Attributes, m.DeduplicationID)
					}
					if err != nil {
						errs[i] = err
						gateMu.Lock()
						gate.Fail(m.Key)
						gateMu.Unlock()
					}
				}
			}
		})
	}
	for _, run := range runs {
		work <- run
	}
	close(work)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return &pubsub.BatchError{Errs: errs}
		}
	}
	return nil
}
