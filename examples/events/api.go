package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"regexp"
	"strings"
	"sync"

	"github.com/seed8104ecd5/gizmo/pubsub"
	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/web"
)

// event is the body of POST /v1/events and the payload of each message.
type event struct {
	User string `json:"user"`
	Kind string `json:"kind"`
}

var name = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)

// api is the HTTP half: it publishes events and reads the counts.
type api struct {
	pub    pubsub.Publisher
	counts *counts
}

// Prefix implements server.Service.
func (a *api) Prefix() string { return "/v1" }

// Middleware implements server.Service.
func (a *api) Middleware(h http.Handler) http.Handler { return h }

// Endpoints implements server.Service.
func (a *api) Endpoints() []server.Endpoint {
	return []server.Endpoint{
		{Method: http.MethodPost, Path: "/events", Handler: server.JSON(a.publish)},
		{Method: http.MethodGet, Path: "/users/{user}/counts", Handler: server.JSON(a.userCounts)},
	}
}

func (a *api) publish(ctx context.Context, r *http.Request) (int, any, error) {
	var ev event
	if err := web.DecodeJSON(r, &ev); err != nil {
		return 0, nil, err // a 400 or 413 naming the problem, null included
	}
	if err := validate(field{"user", ev.User}, field{"kind", ev.Kind}); err != nil {
		return 0, nil, err
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return 0, nil, err
	}
	// The key keeps one user's events in order. The publisher from
	// daemon.Publisher adds the request's trace context and ID, so that
	// the consumer's spans and logs join the API's.
	if err := a.pub.PublishRaw(ctx, ev.User, body, pubsub.WithAttribute("kind", ev.Kind)); err != nil {
		return http.StatusServiceUnavailable, nil, fmt.Errorf("publishing the event: %w", err)
	}
	return http.StatusAccepted, map[string]string{"status": "accepted"}, nil
}

func (a *api) userCounts(_ context.Context, r *http.Request) (int, any, error) {
	user := web.RouteVar(r, "user")
	if err := validate(field{"user", user}); err != nil {
		err.Status = http.StatusBadRequest // a bad path, not a bad entity
		return 0, nil, err
	}
	return http.StatusOK, map[string]any{"user": user, "counts": a.counts.of(user)}, nil
}

// field is a named value to validate.
type field struct{ name, value string }

// validate checks every field, in the order given, and reports all the
// invalid ones: the first in Field, all of them in the "invalid_fields"
// extension, in that same order.
func validate(fields ...field) *web.Error {
	var invalid []map[string]string
	for _, f := range fields {
		if !name.MatchString(f.value) {
			invalid = append(invalid, map[string]string{
				"field":  f.name,
				"detail": f.name + " must be 1-64 lower-case letters, digits, _ or -, starting with a letter or digit",
			})
		}
	}
	if len(invalid) == 0 {
		return nil
	}
	names := make([]string, len(invalid))
	for i, f := range invalid {
		names[i] = f["field"]
	}
	return &web.Error{
		Status:     http.StatusUnprocessableEntity,
		Field:      invalid[0]["field"],
		Detail:     "invalid " + strings.Join(names, ", ") + ": each must be 1-64 lower-case letters, digits, _ or -, starting with a letter or digit",
		Extensions: map[string]any{"invalid_fields": invalid},
	}
}

// counts is the consumer half's state: events per user and kind.
type counts struct {
	mu     sync.Mutex
	byUser map[string]map[string]int
}

func newCounts() *counts { return &counts{byUser: map[string]map[string]int{}} }

// handle is the pubsub.Handler. A payload that cannot be decoded is a
// permanent failure: retrying would not help, so Consume sends it to the
// dead-letter topic at once.
func (c *counts) handle(_ context.Context, m pubsub.SubscriberMessage) error {
	var ev event
	if err := json.Unmarshal(m.Message(), &ev); err != nil {
		return pubsub.Permanent(fmt.Errorf("decoding event %s: %w", m.ID(), err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byUser[ev.User] == nil {
		c.byUser[ev.User] = map[string]int{}
	}
	c.byUser[ev.User][ev.Kind]++
	return nil
}

// of returns a copy of user's counts: empty, not nil, for a user with none,
// so that it renders as {}.
func (c *counts) of(user string) map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]int, len(c.byUser[user]))
	maps.Copy(out, c.byUser[user])
	return out
}
