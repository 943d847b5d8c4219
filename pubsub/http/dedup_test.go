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
	d := pubsubhttp.NewMemoryDeduplicator(time.Hour, 3)
	for _, id := range []string{"a", "b", "c", "d"} {
		_ = d.Acked(ctx, id)
	}
	if seen(d, "a") || !seen(d, "b") || !seen(d, "c") || !seen(d, "d") {
		t.Error("over capacity, the oldest ID must go first, and only it")
	}
	_ = d.Acked(ctx, "b") // refreshed: now the newest
	_ = d.Acked(ctx, "e")
	if !seen(d, "b") || seen(d, "c") || !seen(d, "d") || !seen(d, "e") {
		t.Error("an ID acknowledged again must count from its latest acknowledgement")
	}
	if seen(d, "never") {
		t.Error("an ID never acknowledged was seen")
	}

	short := pubsubhttp.NewMemoryDeduplicator(time.Nanosecond, 10)
	_ = short.Acked(ctx, "x")
	for seen(short, "x") { // the window passes
		time.Sleep(time.Millisecond)
	}

	big := pubsubhttp.NewMemoryDeduplicator(time.Hour, 1000)
	for i := range 5000 {
		_ = big.Acked(ctx, fmt.Sprint(i))
	}
	if seen(big, "3999") || !seen(big, "4000") || !seen(big, "4999") {
		t.Error("a store of 1000 after 5000 IDs must hold exactly the last 1000")
	}
}
