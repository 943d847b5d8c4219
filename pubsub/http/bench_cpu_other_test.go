//go:build !unix

package http_test

import (
	"testing"
	"time"
)

// processCPU is not measured on this platform; the cpu-µs/msg metric of
// BenchmarkThroughput reads 0 here.
func processCPU(testing.TB) time.Duration { return 0 }
