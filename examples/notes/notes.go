package main

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/web"
)

// A note is what the service stores.
type note struct {
	ID      int64     `json:"id"`
	Title   string    `json:"title"`
	Body    string    `json:"body,omitempty"`
	Created time.Time `json:"created"`
}

// newNote is the body of POST /v1/notes.
type newNote struct {
	Title string `json:"title"`
	Body  string `json:"body"`
}

// notes is an in-memory note store served as a server.Service.
type notes struct {
	max int
	now func() time.Time

	mu     sync.Mutex
	byID   map[int64]note
	nextID int64
}

func newNotes(max int, now func() time.Time) *notes {
	return &notes{max: max, now: now, byID: map[int64]note{}, nextID: 1}
}

// Prefix implements server.Service.
func (n *notes) Prefix() string { return "/v1/notes" }

// Middleware implements server.Service: every answer is private to the
// caller and must not be cached.
func (n *notes) Middleware(h http.Handler) http.Handler { return server.NoCache(h) }

// Endpoints implements server.Service. Order matters to gorilla/mux only
// where templates overlap; here they do not.
func (n *notes) Endpoints() []server.Endpoint {
	return []server.Endpoint{
		{Method: http.MethodPost, Path: "", Handler: server.JSON(n.create)},
		{Method: http.MethodGet, Path: "", Handler: server.JSON(n.list)},
		{Method: http.MethodGet, Path: "/{id:[0-9]+}", Handler: server.JSON(n.get)},
		{Method: http.MethodDelete, Path: "/{id:[0-9]+}", Handler: server.JSON(n.delete)},
	}
}

func (n *notes) create(_ context.Context, r *http.Request) (int, any, error) {
	var in newNote
	if err := web.DecodeJSON(r, &in); err != nil {
		return 0, nil, err // a 400 or 413 naming the problem
	}
	in.Title = strings.TrimSpace(in.Title)
	if in.Title == "" {
		return 0, nil, &web.Error{Status: http.StatusUnprocessableEntity, Detail: "title must not be empty", Field: "title"}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if err := n.roomLocked(); err != nil {
		return 0, nil, &web.Error{Status: http.StatusInsufficientStorage, Detail: err.Error()}
	}
	nt := note{ID: n.nextID, Title: in.Title, Body: in.Body, Created: n.now().UTC()}
	n.byID[nt.ID] = nt
	n.nextID++
	return http.StatusCreated, nt, nil
}

// hasRoom is a readiness check: it fails while the store is full.
func (n *notes) hasRoom(context.Context) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.roomLocked()
}

// roomLocked reports a full store. n.mu must be held.
func (n *notes) roomLocked() error {
	if len(n.byID) >= n.max {
		return fmt.Errorf("the store is full (%d notes)", n.max)
	}
	return nil
}

func (n *notes) get(_ context.Context, r *http.Request) (int, any, error) {
	id, err := web.VarInt64(r, "id")
	if err != nil {
		return 0, nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	nt, ok := n.byID[id]
	if !ok {
		return 0, nil, web.Errorf(http.StatusNotFound, "no note %d", id)
	}
	return http.StatusOK, nt, nil
}

// list answers GET /v1/notes?since=2026-01-02&limit=20: the notes created on
// or after since (a date, UTC), oldest first, at most limit of them.
func (n *notes) list(_ context.Context, r *http.Request) (int, any, error) {
	since, err := web.QueryDateDefault(r, "since", time.Time{})
	if err != nil {
		return 0, nil, err
	}
	limit, err := web.QueryInt64Default(r, "limit", 100)
	if err != nil {
		return 0, nil, err
	}
	if limit < 1 || limit > 1000 {
		return 0, nil, &web.Error{Status: http.StatusBadRequest, Detail: "limit must be between 1 and 1000", Field: "limit"}
	}
	n.mu.Lock()
	out := make([]note, 0, len(n.byID))
	for _, nt := range n.byID {
		if !nt.Created.Before(since) {
			out = append(out, nt)
		}
	}
	n.mu.Unlock()
	slices.SortFunc(out, func(a, b note) int { return cmp.Compare(a.ID, b.ID) })
	if int64(len(out)) > limit {
		out = out[:limit]
	}
	return http.StatusOK, map[string]any{"notes": out}, nil
}

func (n *notes) delete(_ context.Context, r *http.Request) (int, any, error) {
	id, err := web.VarInt64(r, "id")
	if err != nil {
		return 0, nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, ok := n.byID[id]; !ok {
		return 0, nil, web.Errorf(http.StatusNotFound, "no note %d", id)
	}
	delete(n.byID, id)
	return http.StatusNoContent, nil, nil
}
