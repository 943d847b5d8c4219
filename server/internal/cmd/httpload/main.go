// Command httpload sends a fixed number of GET requests to a URL over
// keep-alive connections and checks that each is answered with 200. It is
// the load of scripts/bench-instructions-server.sh, which counts a server's
// instructions per request under valgrind and so needs a request count
// rather than wrk's fixed duration:
//
//	httpload -url http://127.0.0.1:18080/users/42 -n 20000 -c 8
package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "httpload:", err)
		os.Exit(1)
	}
}

func run() error {
	url := flag.String("url", "http://127.0.0.1:18080/users/42", "URL to GET")
	n := flag.Int("n", 10000, "requests to send")
	c := flag.Int("c", 8, "concurrent connections")
	flag.Parse()

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c, DisableCompression: true}}
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
	)
	for range *c {
		wg.Go(func() {
			for next.Add(1) <= int64(*n) {
				resp, err := client.Get(*url)
				if err == nil {
					_, err = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if err == nil && resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					errOnce.Do(func() { first = err })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}
