package http_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
)

func TestMemoryDeduplicator(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	seen := func(d *pubsubhttp.MemoryDeduplicator, id string) bool {
		ok, err := d.Seen(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return ok
	}
	d := pubsubhttp.NewMemoryDeduplicator(time.Hour, 1000)
	for i := range 500 {
		_ = d.Acked(ctx, fmt.Sprint("id-", i))
	}
	for i := range 500 {
		if !seen(d, fmt.Sprint("id-", i)) {
			t.Fatalf("id-%d was forgotten within the window and under the capacity", i)
		}
	}
	if seen(d, "never") {
		t.Error("an ID never acknowledged was seen")
	}

	// Over capacity the oldest go: after 5000 IDs a store of about 1000
	// holds about the last 1000, and surely the last 100.
	for i := 500; i < 5000; i++ {
		_ = d.Acked(ctx, fmt.Sprint("id-", i))
	}
	kept := 0
	for i := range 5000 {
		if seen(d, fmt.Sprint("id-", i)) {
			kept++
			if i < 3000 {
				t.Errorf("id-%d, among the oldest 3000 of 5000, is still remembered by a store of 1000", i)
			}
		}
	}
	if kept > 1024 || kept < 700 {
		t.Errorf("a store of 1000 remembers %d of 5000 IDs", kept)
	}
	for i := 4900; i < 5000; i++ {
		if !seen(d, fmt.Sprint("id-", i)) {
			t.Errorf("id-%d, among the newest 100, was forgotten", i)
		}
	}

	// An ID acknowledged again counts from its latest acknowledgement.
	small := pubsubhttp.NewMemoryDeduplicator(time.Hour, 1) // one per shard
	_ = small.Acked(ctx, "again")
	_ = small.Acked(ctx, "again")
	if !seen(small, "again") {
		t.Error("an ID acknowledged twice was forgotten")
	}

	short := pubsubhttp.NewMemoryDeduplicator(time.Nanosecond, 10)
	_ = short.Acked(ctx, "x")
	for seen(short, "x") { // the window passes
		time.Sleep(time.Millisecond)
	}
}
