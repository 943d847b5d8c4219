// Package deadline makes the connection deadlines that net/http sets on
// every request cheap, by enforcing far-off deadlines with a coarse
// watchdog instead of a runtime timer each.
//
// With ReadTimeout, ReadHeaderTimeout, WriteTimeout or IdleTimeout set,
// net/http re-arms a keep-alive connection's read and write deadlines
// several times per request (about six timer operations, each with its own
// clock readings). A [Listener] hands net/http connections whose
// SetReadDeadline, SetWriteDeadline and SetDeadline only record a deadline
// that is more than a tick away; a watchdog goroutine wakes every tick
// while connections are open and sets the recorded deadline on the socket
// once it has passed, which makes the blocked or next Read or Write fail
// with os.ErrDeadlineExceeded as before. Deadlines within a tick of now,
// deadlines in the past (net/http's way of interrupting a read) and
// clearing a deadline the socket holds are passed to the socket at once.
//
// So a far-off deadline fires up to one tick (plus scheduling delay) late,
// and never early: a Read or Write that meets a deadline the socket still
// holds after the connection's deadline moved later is retried
// transparently. Deadlines less than a second past the watchdog's clock
// are checked against a fresh clock reading, so a watchdog that has not
// run for a while cannot make a near deadline late.
//
// Only *net.TCPConn connections are wrapped; the others are returned as
// Accept gave them. [Release] unwraps a connection for a handler that
// hijacks it, so that the handler gets the *net.TCPConn with exact
// deadlines, as it would without this package.
package deadline

import (
	"errors"
	"io"
	"math"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// fired marks a socket deadline that has fired: sync never computes it as
// a target (a target is 0 or a deadline within a tick of now).
const fired = math.MaxInt64

// lazyAfter is how far beyond the watchdog's clock a deadline must be for
// it to be recorded without a fresh clock reading.
const lazyAfter = time.Second

// Listener wraps a net.Listener so that its TCP connections enforce their
// deadlines as the package documentation describes.
type Listener struct {
	net.Listener
	w *watchdog
}

// NewListener returns ln with deadlines enforced every tick. A tick of
// zero or less means 100ms.
func NewListener(ln net.Listener, tick time.Duration) *Listener {
	if tick <= 0 {
		tick = 100 * time.Millisecond
	}
	return &Listener{Listener: ln, w: newWatchdog(tick)}
}

// Accept waits for and returns the next connection, wrapped if it is a
// *net.TCPConn.
func (l *Listener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c, nil
	}
	return l.w.add(tc), nil
}

// Release returns the connection c wraps, with its current deadlines set
// exactly on it, and stops watching c; c must not be used afterwards. Any
// other connection is returned as is. A handler that hijacks a connection
// gets it through Release.
func Release(c net.Conn) net.Conn {
	dc, ok := c.(*conn)
	if !ok {
		return c
	}
	dc.w.remove(dc)
	dc.mu.Lock()
	defer dc.mu.Unlock()
	for _, s := range []*side{&dc.rd, &dc.wd} {
		if want := s.want.Load(); want != s.onFD.Load() {
			_ = dc.setOn(s, want)
			s.onFD.Store(want)
		}
	}
	return dc.TCPConn
}

// watchdog expires the recorded deadlines of a listener's connections.
type watchdog struct {
	tick time.Duration
	base time.Time    // origin of the deadline values, with a monotonic reading
	now  atomic.Int64 // the watchdog's clock: ns since base at its last tick

	mu      sync.Mutex
	conns   map[*conn]struct{}
	running bool
	due     []*conn // scratch for loop
}

func newWatchdog(tick time.Duration) *watchdog {
	return &watchdog{tick: tick, base: time.Now(), conns: map[*conn]struct{}{}}
}

// fresh reads the clock, in ns since base.
func (w *watchdog) fresh() int64 { return int64(time.Since(w.base)) }

// rel converts a deadline to ns since base; the zero Time (no deadline)
// is 0, and no deadline maps to 0 otherwise.
func (w *watchdog) rel(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	d := int64(t.Sub(w.base))
	if d == 0 {
		d = -1
	}
	return d
}

// abs converts back: 0 is the zero Time.
func (w *watchdog) abs(d int64) time.Time {
	if d == 0 {
		return time.Time{}
	}
	return w.base.Add(time.Duration(d))
}

func (w *watchdog) add(tc *net.TCPConn) *conn {
	c := &conn{TCPConn: tc, w: w}
	w.mu.Lock()
	w.conns[c] = struct{}{}
	if !w.running {
		w.running = true
		w.now.Store(w.fresh())
		go w.loop()
	}
	w.mu.Unlock()
	return c
}

func (w *watchdog) remove(c *conn) {
	w.mu.Lock()
	delete(w.conns, c)
	w.mu.Unlock()
}

// loop runs while the listener has connections: every tick it advances the
// clock and sets on the socket every recorded deadline that has passed.
func (w *watchdog) loop() {
	t := time.NewTicker(w.tick)
	defer t.Stop()
	for range t.C {
		now := w.fresh()
		w.now.Store(now)
		w.mu.Lock()
		if len(w.conns) == 0 {
			w.running = false
			w.mu.Unlock()
			return
		}
		due := w.due[:0]
		for c := range w.conns {
			if c.rd.pending(now) || c.wd.pending(now) {
				due = append(due, c)
			}
		}
		w.due = due
		w.mu.Unlock()
		for i, c := range due {
			c.expire(now)
			due[i] = nil
		}
	}
}

// side is the deadline state of one direction of a connection, in ns since
// the watchdog's base, 0 meaning none.
type side struct {
	want atomic.Int64 // the deadline the connection has
	onFD atomic.Int64 // the deadline set on the socket; changed under conn.mu
}

// pending reports whether the deadline has passed at now but is not yet
// set on the socket.
func (s *side) pending(now int64) bool {
	want := s.want.Load()
	return want != 0 && want <= now && s.onFD.Load() != want
}

// conn is a TCP connection whose far-off deadlines the watchdog enforces.
type conn struct {
	*net.TCPConn
	w *watchdog

	mu     sync.Mutex // serialises changes to the socket's deadlines
	rd, wd side
}

// SetDeadline implements net.Conn.
func (c *conn) SetDeadline(t time.Time) error {
	return errors.Join(c.SetReadDeadline(t), c.SetWriteDeadline(t))
}

// SetReadDeadline implements net.Conn.
func (c *conn) SetReadDeadline(t time.Time) error { return c.set(&c.rd, t) }

// SetWriteDeadline implements net.Conn.
func (c *conn) SetWriteDeadline(t time.Time) error { return c.set(&c.wd, t) }

func (c *conn) set(s *side, t time.Time) error {
	var d int64
	if !t.IsZero() {
		d = c.w.rel(t)
	}
	s.want.Store(d)
	if d != 0 && d <= c.w.now.Load()+int64(lazyAfter) {
		// Near, or past: decide with a fresh clock reading.
		return c.sync(s, c.w.fresh())
	}
	if s.onFD.Load() != 0 {
		// The socket holds a deadline that is now wrong (earlier, or
		// cleared); take it off.
		return c.sync(s, c.w.now.Load())
	}
	return nil
}

// sync makes the socket's deadline for s what s.want calls for at now: the
// deadline itself if it is within a tick (or past), none if it is further.
func (c *conn) sync(s *side, now int64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	var target int64
	if want := s.want.Load(); want != 0 && want <= now+int64(c.w.tick) {
		target = want
	}
	if target == s.onFD.Load() {
		return nil
	}
	s.onFD.Store(target)
	return c.setOn(s, target)
}

// setOn sets deadline d on the socket for s; c.mu is held.
func (c *conn) setOn(s *side, d int64) error {
	if s == &c.rd {
		return c.TCPConn.SetReadDeadline(c.w.abs(d))
	}
	return c.TCPConn.SetWriteDeadline(c.w.abs(d))
}

// expire sets on the socket the deadlines that have passed at now.
func (c *conn) expire(now int64) {
	for _, s := range []*side{&c.rd, &c.wd} {
		if s.pending(now) {
			_ = c.sync(s, now)
		}
	}
}

// retry reports whether an operation that failed with err on side s should
// be retried: the socket's deadline fired, but the connection's deadline
// has not passed (it was moved later, or cleared, after the socket's was
// set). It fixes the socket's deadline before returning true.
func (c *conn) retry(s *side, err error) bool {
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		return false
	}
	want := s.want.Load()
	if want != 0 && want <= c.w.now.Load() {
		return false // the deadline has passed: a real timeout
	}
	now := c.w.fresh()
	if want != 0 && want <= now {
		return false
	}
	c.mu.Lock()
	// Whatever the socket held has fired; fired is never a target, so sync
	// sets the socket afresh.
	s.onFD.Store(fired)
	c.mu.Unlock()
	_ = c.sync(s, now)
	return true
}

// Read implements net.Conn.
func (c *conn) Read(b []byte) (int, error) {
	for {
		n, err := c.TCPConn.Read(b)
		if n > 0 || err == nil || !c.retry(&c.rd, err) {
			return n, err
		}
	}
}

// Write implements net.Conn.
func (c *conn) Write(b []byte) (int, error) {
	n, err := c.TCPConn.Write(b)
	for err != nil && n < len(b) && c.retry(&c.wd, err) {
		var m int
		m, err = c.TCPConn.Write(b[n:])
		n += m
	}
	return n, err
}

// ReadFrom keeps the socket's sendfile path for files (net/http serves
// them through it). sendfile moves the file's offset by exactly what it
// sent, so a copy that a stale deadline interrupted resumes where the
// socket stopped. Any other source is copied through Write, whose retry
// resumes mid-buffer: the socket's own copy loop would drop the part of a
// buffer it had read but not yet written.
func (c *conn) ReadFrom(r io.Reader) (int64, error) {
	if !isFile(r) {
		return io.Copy(writerOnly{c}, r)
	}
	return c.copyRetrying(&c.wd, func() (int64, error) { return c.TCPConn.ReadFrom(r) })
}

// isFile reports whether r is a file, or a limited reader of one (as
// io.CopyN and http.ServeContent make).
func isFile(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	_, ok := r.(*os.File)
	return ok
}

// writerOnly hides the ReaderFrom of its Writer from io.Copy.
type writerOnly struct{ io.Writer }

// WriteTo keeps the socket's splice path. A retry loses nothing here: the
// socket's copy writes what a read returned before it returns the read's
// error.
func (c *conn) WriteTo(w io.Writer) (int64, error) {
	return c.copyRetrying(&c.rd, func() (int64, error) { return c.TCPConn.WriteTo(w) })
}

// copyRetrying runs op, a ReadFrom or WriteTo of the socket whose
// deadline is s, again for as long as it fails only because of a deadline
// the socket held after s moved later, and adds up what the calls moved.
func (c *conn) copyRetrying(s *side, op func() (int64, error)) (int64, error) {
	n, err := op()
	for err != nil && c.retry(s, err) {
		var m int64
		m, err = op()
		n += m
	}
	return n, err
}

// Close implements net.Conn.
func (c *conn) Close() error {
	c.w.remove(c)
	return c.TCPConn.Close()
}
