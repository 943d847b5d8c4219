package config

import "testing"

func TestNextIndex(t *testing.T) {
	for _, tt := range []struct{ prev, got, want uint64 }{
		{0, 0, 1},   // never block on 0 after an answer
		{0, 42, 42}, // first answer
		{42, 42, 42},
		{42, 50, 50},
		{50, 42, 0}, // went backwards: start over
	} {
		if n := nextIndex(tt.prev, tt.got); n != tt.want {
			t.Errorf("nextIndex(%d, %d) = %d, want %d", tt.prev, tt.got, n, tt.want)
		}
	}
}
