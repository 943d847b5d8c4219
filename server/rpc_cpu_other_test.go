//go:build !unix

package server

import (
	"testing"
	"time"
)

// processCPU is not measured on this platform; the cpu metrics of
// BenchmarkRPCUnaryPaired read 0 (and cpu-ratio NaN) here.
func processCPU(testing.TB) time.Duration { return 0 }
