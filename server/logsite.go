package server

import (
	"runtime"
	"sync/atomic"
)

// logSite is the source position of a log call that builds its own
// slog.Record, as the access log lines do: the program counter that
// Logger.LogAttrs would record there, found by unwinding the stack once
// rather than on every call. A handler with AddSource reports it.
type logSite struct {
	pcv atomic.Uintptr
}

// pc returns the program counter of the call to pc in its caller.
func (s *logSite) pc() uintptr {
	if pc := s.pcv.Load(); pc != 0 {
		return pc
	}
	var pcs [1]uintptr
	runtime.Callers(2, pcs[:]) // skip runtime.Callers and pc itself
	s.pcv.Store(pcs[0])
	return pcs[0]
}
