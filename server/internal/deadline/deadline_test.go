package deadline

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"
)

// pair returns the server side (accepted through a Listener with the given
// tick) and the client side of a loopback TCP connection.
func pair(t *testing.T, tick time.Duration) (*conn, net.Conn, *Listener) {
	t.Helper()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := NewListener(inner, tick)
	t.Cleanup(func() { _ = ln.Close() })
	client, err := net.Dial("tcp", inner.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = client.Close() })
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	dc, ok := c.(*conn)
	if !ok {
		t.Fatalf("Accept returned %T, want *conn", c)
	}
	return dc, client, ln
}

// readTimeout reads from c and returns how long after set the read ended,
// where set is the clock reading the test computed c's deadline from; it
// fails unless the read ended with os.ErrDeadlineExceeded. Measuring from
// set, not from the start of the read, makes "never early" exact: however
// long the test was descheduled in between, the read cannot end before
// set plus the timeout.
func readTimeout(t *testing.T, c net.Conn, set time.Time) time.Duration {
	t.Helper()
	_, err := c.Read(make([]byte, 1))
	d := time.Since(set)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read after %v: %v, want a deadline error", d, err)
	}
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read error %v is not a net.Error timeout", err)
	}
	return d
}

// early allows for the rounding between time.Now and the runtime's own
// clock, which the socket's deadlines use; a deadline that fires earlier
// than this is a bug.
const early = time.Millisecond

// late bounds how late a deadline may fire here: a tick plus whatever a
// loaded machine adds.
const late = 3 * time.Second

func TestFarDeadlineIsRecordedAndFiresLate(t *testing.T) {
	t.Parallel()
	for _, after := range []time.Duration{300 * time.Millisecond, lazyAfter + 500*time.Millisecond} {
		c, _, _ := pair(t, 20*time.Millisecond)
		set := time.Now()
		if err := c.SetReadDeadline(set.Add(after)); err != nil {
			t.Fatal(err)
		}
		if got := c.rd.onFD.Load(); got != 0 {
			t.Fatalf("deadline %v away was set on the socket (%d); want it recorded only", after, got)
		}
		d := readTimeout(t, c, set)
		if d < after-early || d > after+late {
			t.Errorf("deadline %v away fired after %v", after, d)
		}
	}
}

func TestNearDeadlineIsExact(t *testing.T) {
	t.Parallel()
	c, _, _ := pair(t, 500*time.Millisecond)
	set := time.Now()
	if err := c.SetReadDeadline(set.Add(50 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if c.rd.onFD.Load() == 0 {
		t.Fatal("a deadline within a tick was not set on the socket")
	}
	if d := readTimeout(t, c, set); d < 50*time.Millisecond-early || d > late {
		t.Errorf("50ms deadline fired after %v", d)
	}
}

// TestPastDeadlineInterrupts is what net/http does to stop its background
// read: a deadline in the past, then none.
func TestPastDeadlineInterrupts(t *testing.T) {
	t.Parallel()
	c, client, _ := pair(t, time.Hour)
	done := make(chan error, 1)
	go func() {
		_, err := c.Read(make([]byte, 1))
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the read block
	if err := c.SetReadDeadline(time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("interrupted read: %v", err)
		}
	case <-time.After(late):
		t.Fatal("a past deadline did not interrupt the blocked read")
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if c.rd.onFD.Load() != 0 {
		t.Error("clearing the deadline left one on the socket")
	}
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read after clearing the deadline: %v", err)
	}
}

// TestMovedDeadlineNeverFiresEarly moves a deadline that is on the socket
// later, and plants a stale one on the socket as a race with the watchdog
// would: the read must wait for the data, not fail.
func TestMovedDeadlineNeverFiresEarly(t *testing.T) {
	t.Parallel()
	c, client, _ := pair(t, 100*time.Millisecond)
	if err := c.SetReadDeadline(time.Now().Add(20 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if c.rd.onFD.Load() != 0 {
		t.Fatal("moving the deadline later left the earlier one on the socket")
	}
	// A stale deadline on the socket, as if the watchdog had set the old
	// one just before it moved.
	c.mu.Lock()
	_ = c.TCPConn.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
	c.rd.onFD.Store(c.w.rel(time.Now()))
	c.mu.Unlock()
	start := time.Now() // before the writer starts: it writes 150ms after this at the earliest
	go func() {
		time.Sleep(150 * time.Millisecond)
		_, _ = client.Write([]byte("x"))
	}()
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read failed after %v: %v", time.Since(start), err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("read returned after %v, before the data was sent", d)
	}
}

func TestClearedDeadlineDoesNotFire(t *testing.T) {
	t.Parallel()
	c, client, _ := pair(t, 10*time.Millisecond)
	if err := c.SetReadDeadline(time.Now().Add(100 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	if err := c.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(300 * time.Millisecond)
		_, _ = client.Write([]byte("x"))
	}()
	if _, err := c.Read(make([]byte, 1)); err != nil {
		t.Fatalf("read with a cleared deadline: %v", err)
	}
}

func TestWriteDeadline(t *testing.T) {
	t.Parallel()
	c, _, _ := pair(t, 20*time.Millisecond)
	const after = 300 * time.Millisecond
	start := time.Now()
	if err := c.SetWriteDeadline(start.Add(after)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	var err error
	for err == nil { // the client never reads: the buffers fill up
		_, err = c.Write(buf)
	}
	d := time.Since(start)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("write: %v", err)
	}
	if d < after-early || d > after+late {
		t.Errorf("write deadline %v fired after %v", after, d)
	}
}

func TestSetDeadlineSetsBoth(t *testing.T) {
	t.Parallel()
	c, _, _ := pair(t, time.Hour)
	dl := time.Now().Add(10 * time.Hour)
	if err := c.SetDeadline(dl); err != nil {
		t.Fatal(err)
	}
	if c.rd.want.Load() != c.w.rel(dl) || c.wd.want.Load() != c.w.rel(dl) {
		t.Error("SetDeadline did not record both deadlines")
	}
}

func TestReleaseGivesTheSocketWithItsDeadlines(t *testing.T) {
	t.Parallel()
	c, _, ln := pair(t, time.Hour)
	set := time.Now()
	if err := c.SetReadDeadline(set.Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	raw := Release(c)
	if _, ok := raw.(*net.TCPConn); !ok {
		t.Fatalf("Release returned %T", raw)
	}
	ln.w.mu.Lock()
	n := len(ln.w.conns)
	ln.w.mu.Unlock()
	if n != 0 {
		t.Errorf("the watchdog still watches %d connections", n)
	}
	// The tick is an hour: only the socket itself can enforce this.
	if d := readTimeout(t, raw, set); d < 200*time.Millisecond-early || d > late {
		t.Errorf("released connection's 200ms deadline fired after %v", d)
	}
	if other := (&net.UnixConn{}); Release(other) != net.Conn(other) {
		t.Error("Release changed a connection it does not wrap")
	}
}

// pipeListener hands out net.Pipe connections.
type pipeListener struct{ net.Listener }

func (pipeListener) Accept() (net.Conn, error) { c, _ := net.Pipe(); return c, nil }

func TestOnlyTCPConnectionsAreWrapped(t *testing.T) {
	ln := NewListener(pipeListener{}, 0)
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := c.(*conn); ok {
		t.Error("a net.Pipe connection was wrapped")
	}
	if ln.w.tick != 100*time.Millisecond {
		t.Errorf("default tick %v", ln.w.tick)
	}
}

func TestWatchdogStopsWithoutConnections(t *testing.T) {
	t.Parallel()
	c, _, ln := pair(t, 5*time.Millisecond)
	ln.w.mu.Lock()
	running := ln.w.running
	ln.w.mu.Unlock()
	if !running {
		t.Fatal("the watchdog is not running with a connection open")
	}
	_ = c.Close()
	deadline := time.Now().Add(late)
	for {
		ln.w.mu.Lock()
		running = ln.w.running
		ln.w.mu.Unlock()
		if !running {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watchdog kept running after the last connection closed")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConcurrentDeadlineChanges changes both deadlines from several
// goroutines while data flows both ways (run it with -race). Afterwards,
// with the deadlines cleared, the connection must work.
func TestConcurrentDeadlineChanges(t *testing.T) {
	t.Parallel()
	c, client, _ := pair(t, time.Millisecond)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				var dl time.Time
				switch rand.IntN(4) {
				case 1:
					dl = time.Unix(1, 0)
				case 2:
					dl = time.Now().Add(time.Duration(rand.IntN(3000)) * time.Microsecond)
				case 3:
					dl = time.Now().Add(time.Hour)
				}
				if rand.IntN(2) == 0 {
					_ = c.SetReadDeadline(dl)
				} else {
					_ = c.SetWriteDeadline(dl)
				}
			}
		})
	}
	wg.Go(func() { // echo what the client sends, ignoring timeouts
		buf := make([]byte, 512)
		for {
			select {
			case <-stop:
				return
			default:
			}
			n, err := c.Read(buf)
			if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			_, _ = c.Write(buf[:n])
		}
	})
	go func() { _, _ = io.Copy(io.Discard, client) }()
	for range 200 {
		_, _ = client.Write([]byte("ping"))
		time.Sleep(100 * time.Microsecond)
	}
	close(stop)
	_ = c.SetDeadline(time.Unix(1, 0)) // end the echo loop's read
	wg.Wait()

	if err := c.SetDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("z")); err != nil {
		t.Fatal(err)
	}
	if n, err := c.Read(make([]byte, 64)); n == 0 || err != nil {
		t.Fatalf("read after the deadlines were cleared: %d bytes, %v", n, err)
	}
	if _, err := c.Write([]byte("z")); err != nil {
		t.Fatalf("write after the deadlines were cleared: %v", err)
	}
}

// TestHTTPServerTimeouts runs net/http's own timeouts over a Listener.
func TestHTTPServerTimeouts(t *testing.T) {
	t.Parallel()
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, "ok")
		}),
		ReadHeaderTimeout: 300 * time.Millisecond,
		IdleTimeout:       300 * time.Millisecond,
	}
	go func() { _ = srv.Serve(NewListener(inner, 10*time.Millisecond)) }()
	t.Cleanup(func() { _ = srv.Close() })
	addr := inner.Addr().String()

	closedAfter := func(req string) time.Duration {
		t.Helper()
		// The server starts its timeouts after it accepts, so after this.
		start := time.Now()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(start.Add(15 * time.Second))
		br := bufio.NewReader(c)
		if req[len(req)-4:] == "\r\n\r\n" {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		if _, err := io.Copy(io.Discard, br); err != nil {
			t.Fatalf("server kept the connection open: %v", err)
		}
		return time.Since(start)
	}
	if d := closedAfter("GET / HTTP/1.1\r\nHost: x\r\n"); d < 300*time.Millisecond-early || d > late {
		t.Errorf("unfinished headers: closed after %v, want the 300ms header timeout", d)
	}
	if d := closedAfter("GET / HTTP/1.1\r\nHost: x\r\n\r\n"); d < 300*time.Millisecond-early || d > late {
		t.Errorf("idle keep-alive connection closed after %v, want the 300ms idle timeout", d)
	}
	// Keep-alive requests in a row are served.
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for i := range 50 {
		resp, err := client.Get("http://" + addr + "/")
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}

// staleWriteDeadline leaves on c's socket a write deadline 10ms away while
// the connection's own write deadline is an hour away, as if the watchdog
// had set an old deadline just before net/http moved it.
func staleWriteDeadline(t *testing.T, c *conn) {
	t.Helper()
	if err := c.SetWriteDeadline(time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	_ = c.TCPConn.SetWriteDeadline(time.Now().Add(10 * time.Millisecond))
	c.wd.onFD.Store(c.w.rel(time.Now()))
	c.mu.Unlock()
}

// TestReadFromSurvivesStaleDeadline copies 8 MiB to a client that starts
// reading only after the stale socket deadline has fired mid-copy: every
// byte arrives, in order, from a plain reader (copied through Write) and
// from a file (the socket's sendfile path).
func TestReadFromSurvivesStaleDeadline(t *testing.T) {
	t.Parallel()
	data := make([]byte, 8<<20)
	for i := range data {
		data[i] = byte(i * 7 / 3)
	}
	file, err := os.CreateTemp(t.TempDir(), "payload")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := file.Write(data); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		src  func() io.Reader
	}{
		// Only a Reader: io.Copy cannot hand the copy to its WriteTo.
		{"reader", func() io.Reader { return struct{ io.Reader }{bytes.NewReader(data)} }},
		{"file", func() io.Reader {
			if _, err := file.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			return file
		}},
		{"limited file", func() io.Reader {
			if _, err := file.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			return io.LimitReader(file, int64(len(data)))
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, client, _ := pair(t, 100*time.Millisecond)
			staleWriteDeadline(t, c)
			got := make(chan []byte, 1)
			go func() {
				time.Sleep(200 * time.Millisecond) // the socket's deadline fires meanwhile
				b, _ := io.ReadAll(client)
				got <- b
			}()
			n, err := c.ReadFrom(tc.src())
			if err != nil || n != int64(len(data)) {
				t.Fatalf("ReadFrom = %d, %v; want %d, nil", n, err, len(data))
			}
			_ = c.Close()
			if b := <-got; !bytes.Equal(b, data) {
				t.Fatalf("the client got %d bytes, want the %d sent, in order", len(b), len(data))
			}
		})
	}
}
