package config

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"reflect"
	"time"

	"github.com/hashicorp/consul/api"
)

// A WatchOption configures [WatchConsul].
type WatchOption func(*watchOptions)

type watchOptions struct {
	onError    func(error)
	logger     *slog.Logger
	minBackoff time.Duration
	maxBackoff time.Duration
	waitTime   time.Duration
	layers     []Source
}

// WatchErrors sets a function that receives every problem the watch meets
// and survives: an update that does not decode or validate, a callback that
// rejects an update, a missing key, an unreachable Consul. It is called from
// the watch's goroutine. By default problems are only logged.
func WatchErrors(fn func(error)) WatchOption {
	return func(o *watchOptions) { o.onError = fn }
}

// WatchLogger sets the logger for the watch's warnings. The default discards
// them.
func WatchLogger(l *slog.Logger) WatchOption {
	return func(o *watchOptions) {
		if l != nil {
			o.logger = l
		}
	}
}

// WatchBackoff sets the delays between retries while Consul fails: the
// first retry waits about initial, each further one twice as long, up to
// limit. The defaults are 250ms and 30s.
func WatchBackoff(initial, limit time.Duration) WatchOption {
	return func(o *watchOptions) {
		if initial > 0 {
			o.minBackoff = initial
		}
		o.maxBackoff = max(limit, o.minBackoff)
	}
}

// WatchWaitTime sets how long one blocking query may wait for a change
// before Consul answers anyway (Consul caps it at 10 minutes). The default
// is 5 minutes.
func WatchWaitTime(d time.Duration) WatchOption {
	return func(o *watchOptions) {
		if d > 0 {
			o.waitTime = d
		}
	}
}

// WatchLayers makes every update go through the same layers as [Load]:
// each new value of the key is applied, in a fresh T, in the place of the
// [Consul] source for that key among sources (which must hold one, possibly
// wrapped in [Optional]), so that defaults, files and environment keep their
// precedence. Without this option an update is decoded on its own into a
// zero T.
func WatchLayers(sources ...Source) WatchOption {
	return func(o *watchOptions) { o.layers = sources }
}

// WatchConsul watches key in Consul's KV store and calls onChange with the
// decoded configuration: first with the current value, then after each
// change, from a single goroutine. It uses blocking queries, so a change is
// seen as soon as Consul commits it.
//
// A bad update — one that does not decode, fails Validate (see [Validator])
// or is rejected by onChange returning an error — is reported through
// [WatchErrors] and the logger, and onChange is not called with it: the
// previous configuration stays in force. A deleted key is reported the same
// way. An unreachable Consul is reported and retried with exponential
// backoff; it never ends the watch.
//
// T is a struct type (or a pointer to one); each update is decoded into a
// fresh value. WatchConsul blocks until ctx is done, then returns nil. It
// returns an error at once only for invalid arguments.
func WatchConsul[T any](ctx context.Context, client *api.Client, key string, onChange func(T) error, opts ...WatchOption) error {
	name := consulSourceName(key)
	if client == nil || onChange == nil {
		return &Error{Source: name, Err: errors.New("watch needs a consul client and a callback")}
	}
	o := watchOptions{
		logger:     slog.New(slog.DiscardHandler),
		minBackoff: 250 * time.Millisecond,
		maxBackoff: 30 * time.Second,
		waitTime:   5 * time.Minute,
	}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	layers, err := watchLayers(o.layers, key)
	if err != nil {
		return &Error{Source: name, Err: err}
	}
	w := &watcher[T]{client: client, key: key, name: name, onChange: onChange, o: o, layers: layers}
	w.run(ctx)
	return nil
}

// watchLayers returns a function that builds the sources for one update.
func watchLayers(sources []Source, key string) (func([]byte) []Source, error) {
	if len(sources) == 0 {
		return func(data []byte) []Source {
			return []Source{documentSource{name: consulSourceName(key), data: data}}
		}, nil
	}
	at := -1
	var opts []JSONOption
	for i, s := range sources {
		if o, ok := s.(optionalSource); ok {
			s = o.Source
		}
		if c, ok := s.(consulSource); ok && c.key == key {
			at, opts = i, c.opts
		}
	}
	if at < 0 {
		return nil, errors.New("WatchLayers: no Consul source for the watched key")
	}
	return func(data []byte) []Source {
		out := append([]Source(nil), sources...)
		out[at] = documentSource{name: consulSourceName(key), data: data, opts: opts}
		return out
	}, nil
}

type watcher[T any] struct {
	client   *api.Client
	key      string
	name     string
	onChange func(T) error
	o        watchOptions
	layers   func([]byte) []Source
}

func (w *watcher[T]) run(ctx context.Context) {
	var (
		index   uint64
		last    []byte
		seen    bool // last holds the value most recently handled
		missing bool // the key's absence has been reported
		backoff = w.o.minBackoff
	)
	for ctx.Err() == nil {
		q := &api.QueryOptions{WaitIndex: index, WaitTime: w.o.waitTime}
		value, meta, err := getConsulKey(ctx, w.client, w.key, q)
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			delay := backoff/2 + rand.N(backoff/2+1)
			w.report(&Error{Source: w.name, Err: err}, "retry_in", delay)
			backoff = min(2*backoff, w.o.maxBackoff)
			sleep(ctx, delay)
			continue
		}
		backoff = w.o.minBackoff
		index = nextIndex(index, meta.LastIndex)
		if err != nil { // ErrNotFound
			if !missing {
				w.report(&Error{Source: w.name, Err: err})
				missing, seen, last = true, false, nil
			}
			continue
		}
		missing = false
		if seen && bytes.Equal(value, last) {
			continue // woken up without a change to this key
		}
		seen, last = true, value
		cfg, err := w.decode(ctx, value)
		if err != nil {
			w.report(err)
			continue
		}
		if err := w.onChange(cfg); err != nil {
			w.report(&Error{Source: w.name, Err: fmt.Errorf("update rejected: %w", err)})
		}
	}
}

// decode builds a fresh T from the layers with value as the key's document.
func (w *watcher[T]) decode(ctx context.Context, value []byte) (T, error) {
	var cfg T
	target := any(&cfg)
	if t := reflect.TypeFor[T](); t.Kind() == reflect.Pointer {
		p := reflect.New(t.Elem())
		cfg, target = p.Interface().(T), p.Interface()
	}
	if err := loadInto(ctx, target, w.layers(value)); err != nil {
		var zero T
		return zero, err
	}
	return cfg, nil
}

func (w *watcher[T]) report(err error, attrs ...any) {
	w.o.logger.Warn("config: watch problem", append([]any{"key", w.key, "err", err}, attrs...)...)
	if w.o.onError != nil {
		w.o.onError(err)
	}
}

// nextIndex returns the WaitIndex for the next blocking query, following
// Consul's rules: an index that went backwards (a restored snapshot, a new
// cluster) restarts from 0, and 0 is never used once an answer came back,
// because it would not block.
func nextIndex(prev, got uint64) uint64 {
	if got < prev {
		return 0
	}
	return max(got, 1)
}

// sleep waits for d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
