//go:build !unix

package main

import "errors"

// processCPU is not measured on this platform.
func processCPU() (int64, error) { return 0, errors.New("process CPU time is not available here") }
