package gcp

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
)

// tcpProxy forwards TCP connections from an address of its own to a
// backend. The tests use it to make the server, as its clients see it, go
// away and come back (down, up, restart) or drop every connection (cut)
// while pstest behind it keeps running, and to restart pstest behind a
// stable address.
type tcpProxy struct {
	addr string

	mu      sync.Mutex
	backend string
	ln      net.Listener
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup // accept loop and copiers
	closed  bool
}

func newProxy(t testing.TB, backend string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("proxy: listen: %v", err)
	}
	p := &tcpProxy{addr: ln.Addr().String(), backend: backend, conns: make(map[net.Conn]struct{})}
	p.serve(ln)
	t.Cleanup(p.close)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			backend := p.backend
			p.mu.Unlock()
			b, err := net.Dial("tcp", backend)
			if err != nil {
				_ = c.Close()
				continue
			}
			p.mu.Lock()
			if p.ln != ln {
				p.mu.Unlock()
				_ = c.Close()
				_ = b.Close()
				continue
			}
			p.conns[c], p.conns[b] = struct{}{}, struct{}{}
			p.mu.Unlock()
			p.wg.Go(func() { p.pipe(c, b) })
			p.wg.Go(func() { p.pipe(b, c) })
		}
	})
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut drops every open connection; new ones are accepted.
func (p *tcpProxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
	}
}

// down closes the listener and drops every connection: connecting fails
// until up.
func (p *tcpProxy) down() {
	p.mu.Lock()
	if p.ln != nil {
		_ = p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		_ = c.Close()
	}
	p.mu.Unlock()
}

// up listens again on the same address, forwarding to backend (or the
// previous backend if empty).
func (p *tcpProxy) up(backend string) error {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		_ = ln.Close()
		return errors.New("proxy closed")
	}
	if backend != "" {
		p.backend = backend
	}
	p.serve(ln)
	return nil
}

func (p *tcpProxy) close() {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	p.down()
	p.wg.Wait()
}
