package config_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/seed8104ecd5/gizmo/config"
)

type watchCfg struct {
	Port int    `json:"port"`
	Name string `json:"name" default:"dflt"`
}

func (c watchCfg) Validate() error {
	if c.Port < 0 {
		return errors.New("port must not be negative")
	}
	return nil
}

// recorder collects what a watch reports.
type recorder[T any] struct {
	changes chan T
	errs    chan error
	done    chan error
	cancel  context.CancelFunc
}

func startWatch[T any](t *testing.T, c *api.Client, key string, reject func(T) error, opts ...config.WatchOption) *recorder[T] {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &recorder[T]{changes: make(chan T, 64), errs: make(chan error, 64), done: make(chan error, 1), cancel: cancel}
	opts = append(opts, config.WatchErrors(func(err error) {
		select {
		case r.errs <- err:
		default:
		}
	}))
	go func() {
		r.done <- config.WatchConsul(ctx, c, key, func(v T) error {
			if reject != nil {
				if err := reject(v); err != nil {
					return err
				}
			}
			r.changes <- v
			return nil
		}, opts...)
	}()
	t.Cleanup(func() { r.stop(t) })
	return r
}

// stop cancels the watch and checks that it ends promptly.
func (r *recorder[T]) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case err, ok := <-r.done:
		if ok && err != nil {
			t.Errorf("WatchConsul returned %v after cancel, want nil", err)
		}
		if ok {
			close(r.done)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("WatchConsul did not return within 5s of cancel")
	}
}

func (r *recorder[T]) next(t *testing.T) T {
	t.Helper()
	select {
	case v := <-r.changes:
		return v
	case err := <-r.errs:
		t.Fatalf("want a change, got error: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("no change within 10s")
	}
	var zero T
	return zero
}

func (r *recorder[T]) nextErr(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.errs:
		return err
	case v := <-r.changes:
		t.Fatalf("want an error, got a change: %+v", v)
	case <-time.After(10 * time.Second):
		t.Fatal("no error within 10s")
	}
	return nil
}

func TestWatchUpdatesAndBadUpdates(t *testing.T) {
	c := consulClient(t)
	key := testKey(t, c)
	putKey(t, c, key, `{"port": 1}`)
	r := startWatch[watchCfg](t, c, key, nil)

	if got := r.next(t); got != (watchCfg{Port: 1}) {
		t.Fatalf("initial value %+v, want port 1 (no defaults without WatchLayers)", got)
	}

	start := time.Now()
	putKey(t, c, key, `{"port": 2}`)
	if got := r.next(t); got.Port != 2 {
		t.Fatalf("after update: %+v, want port 2", got)
	}
	t.Logf("update seen %v after the write", time.Since(start))

	for _, bad := range []struct{ value, want string }{
		{`{"port": "x"}`, fmt.Sprintf(`config: consul key %q: line 1, column 10: port: cannot unmarshal string into int`, key)},
		{`{"port": -1}`, `config: validate: port must not be negative`},
		{`{"port": 3, "nmae": "typo"}`, fmt.Sprintf(`config: consul key %q: line 1, column 13: nmae: unknown field`, key)},
	} {
		putKey(t, c, key, bad.value)
		if err := r.nextErr(t); err.Error() != bad.want {
			t.Errorf("bad update %s: got %v\nwant %s", bad.value, err, bad.want)
		}
	}
	// The bad updates were never delivered: the next change is the good one.
	putKey(t, c, key, `{"port": 4}`)
	if got := r.next(t); got.Port != 4 {
		t.Fatalf("after recovery: %+v, want port 4", got)
	}

	if _, err := c.KV().Delete(key, nil); err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`config: consul key %q: key not found`, key)
	if err := r.nextErr(t); err.Error() != want || !errors.Is(err, config.ErrNotFound) {
		t.Errorf("after delete: got %v, want %s", err, want)
	}
	putKey(t, c, key, `{"port": 5}`)
	if got := r.next(t); got.Port != 5 {
		t.Fatalf("after re-create: %+v, want port 5", got)
	}
	// Cleanup cancels while a blocking query (5 minute wait) is in flight
	// and checks that the watch ends promptly.
}

func TestWatchLayers(t *testing.T) {
	c := consulClient(t)
	key := testKey(t, c)
	putKey(t, c, key, `{"port": 1}`)
	t.Setenv("WL_PORT", "99")
	r := startWatch[*watchCfg](t, c, key, nil,
		config.WatchLayers(config.Defaults(), config.Consul(c, key), config.Env("WL")))

	if got := r.next(t); *got != (watchCfg{Port: 99, Name: "dflt"}) {
		t.Fatalf("initial: %+v, want env port and default name", *got)
	}
	putKey(t, c, key, `{"port": 2, "name": "consul"}`)
	if got := r.next(t); *got != (watchCfg{Port: 99, Name: "consul"}) {
		t.Fatalf("after update: %+v, want env port, consul name", *got)
	}
}

func TestWatchCallbackRejects(t *testing.T) {
	c := consulClient(t)
	key := testKey(t, c)
	putKey(t, c, key, `{"port": 1}`)
	r := startWatch(t, c, key, func(v watchCfg) error {
		if v.Port == 13 {
			return errors.New("unlucky port")
		}
		return nil
	})
	r.next(t)
	putKey(t, c, key, `{"port": 13}`)
	want := fmt.Sprintf(`config: consul key %q: update rejected: unlucky port`, key)
	if err := r.nextErr(t); err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

func TestWatchConsulDown(t *testing.T) {
	addr := closedAddr(t)
	r := startWatch[watchCfg](t, newClient(t, addr, ""), "app/config", nil,
		config.WatchBackoff(10*time.Millisecond, 50*time.Millisecond))
	want := fmt.Sprintf(`config: consul key "app/config": cannot reach consul: dial tcp %s: connect: connection refused`, addr)
	for i := range 3 { // reported, and retried
		if err := r.nextErr(t); err.Error() != want {
			t.Fatalf("report %d: got %v, want %s", i, err, want)
		}
	}
}

func TestWatchInvalidArguments(t *testing.T) {
	ctx := context.Background()
	c := newClient(t, closedAddr(t), "")
	nop := func(watchCfg) error { return nil }
	for _, tt := range []struct {
		err  error
		want string
	}{
		{config.WatchConsul(ctx, nil, "k", nop), `config: consul key "k": watch needs a consul client and a callback`},
		{config.WatchConsul[watchCfg](ctx, c, "k", nil), `config: consul key "k": watch needs a consul client and a callback`},
		{config.WatchConsul(ctx, c, "k", nop, config.WatchLayers(config.Defaults(), config.Consul(c, "other"))),
			`config: consul key "k": WatchLayers: no Consul source for the watched key`},
	} {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("got %v, want %s", tt.err, tt.want)
		}
	}
}
