package testlog_test

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"

	"github.com/seed8104ecd5/gizmo/internal/testlog"
)

// A test hands the Buffer to the code under test as its log sink; any
// number of goroutines may log at once. A test then reads the records back
// with Find(t, msg), or the raw text with String.
func ExampleBuffer() {
	var logs testlog.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))
	var wg sync.WaitGroup
	for i := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			logger.Info("handled", "worker", i)
		}()
	}
	wg.Wait()
	fmt.Println(strings.Count(logs.String(), "msg=handled"))
	// Output: 3
}
