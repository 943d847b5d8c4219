//go:build !unix

package server

import (
	"testing"
	"time"
)

// processCPU is not measured on this platform; the server CPU metrics of
// BenchmarkRPCUnaryPaired read 0 (and server-cpu-ratio NaN) here.
func processCPU(testing.TB) time.Duration { return 0 }
