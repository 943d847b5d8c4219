package gcp

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"cloud.google.com/go/pubsub/v2/apiv1/pubsubpb"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// streamingPull is the gRPC method of the client's Receive streams.
const streamingPull = "/google.pubsub.v1.Subscriber/StreamingPull"

// drainStreamTimeout bounds how long a StreamingPull call may go on after
// the gate half-closed it, in case the server does not end it.
const drainStreamTimeout = time.Second

// streamGate lets Stop stop fetching without ending the client's Receive.
//
// The client acknowledges with unary calls from a goroutine that lives as
// long as the Receive stream, and ends on the first error the stream
// returns, dropping the acknowledgements it still holds. So ending Receive
// first would lose the acknowledgements of messages settled while Stop
// waits for them, and keeping the stream open while Stop waits lets
// Pub/Sub keep sending messages nobody reads, which pstest (for one)
// delivers again only after the stream's ack deadline.
//
// The gate is a stream interceptor on the subscriber's client. When Stop
// shuts it, it half-closes every StreamingPull call, so that the server
// ends it, and passes on the messages that were already on their way,
// which the subscriber hands back at once; if the server has not ended a
// call within drainStreamTimeout, the gate cancels it. Either way the
// client then sees a stream that merely stays quiet: receiving blocks
// until the client cancels the call itself, and sends succeed. New calls
// never reach Pub/Sub. The client goes on acknowledging, and ends its
// Receive normally once Stop cancels it.
type streamGate struct {
	mu      sync.Mutex
	shut    bool
	streams map[*gatedStream]struct{}

	// exactlyOnce is whether the subscription has exactly-once delivery,
	// as the last response from Pub/Sub that said so said (the client
	// reads it from the same responses).
	exactlyOnce atomic.Bool
}

func newStreamGate() *streamGate {
	return &streamGate{streams: make(map[*gatedStream]struct{})}
}

func (g *streamGate) intercept(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	if method != streamingPull {
		return streamer(ctx, desc, cc, method, opts...)
	}
	if g.isShut() {
		return &quietStream{ctx: ctx}, nil
	}
	rctx, cancel := context.WithCancel(ctx)
	s, err := streamer(rctx, desc, cc, method, opts...)
	if err != nil {
		cancel()
		return nil, err
	}
	gs := &gatedStream{ClientStream: s, quiet: quietStream{ctx: ctx}, cancel: cancel, ended: make(chan struct{}), g: g}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut { // Stop came while the call was being made
		gs.end()
		return &quietStream{ctx: ctx}, nil
	}
	g.streams[gs] = struct{}{}
	context.AfterFunc(ctx, func() { g.forget(gs) })
	return gs, nil
}

func (g *streamGate) isShut() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.shut
}

func (g *streamGate) forget(gs *gatedStream) {
	g.mu.Lock()
	defer g.mu.Unlock()
	delete(g.streams, gs)
	gs.end()
}

// close half-closes every StreamingPull call and makes later ones quiet.
// It returns a channel that is closed once every call has ended, so that
// the messages already on their way were passed on.
func (g *streamGate) close() <-chan struct{} {
	g.mu.Lock()
	g.shut = true
	var ends []chan struct{}
	for gs := range g.streams {
		gs.drain()
		ends = append(ends, gs.ended)
	}
	g.mu.Unlock()
	all := make(chan struct{})
	go func() {
		for _, e := range ends {
			<-e
		}
		close(all)
	}()
	return all
}

// The states of a gatedStream.
const (
	streamOpen     = iota
	streamDraining // half-closed: passing on what was already sent
	streamQuiet    // ended: receiving blocks until the client cancels
)

// gatedStream is a StreamingPull call that the gate can end.
type gatedStream struct {
	grpc.ClientStream
	quiet  quietStream
	cancel context.CancelFunc
	g      *streamGate

	sendMu  sync.Mutex // the client's sends and the gate's half-close
	mu      sync.Mutex
	state   int
	endOnce sync.Once
	ended   chan struct{} // closed once the call is over
}

// end cancels the call and marks it over.
func (s *gatedStream) end() {
	s.endOnce.Do(func() {
		s.cancel()
		close(s.ended)
	})
}

func (s *gatedStream) getState() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *gatedStream) drain() {
	s.mu.Lock()
	if s.state != streamOpen {
		s.mu.Unlock()
		return
	}
	s.state = streamDraining
	s.mu.Unlock()
	go func() {
		s.sendMu.Lock()
		err := s.ClientStream.CloseSend()
		s.sendMu.Unlock()
		if err != nil {
			s.end()
			return
		}
		time.AfterFunc(drainStreamTimeout, s.end)
	}()
}

func (s *gatedStream) RecvMsg(m any) error {
	if s.getState() == streamQuiet {
		return s.quiet.RecvMsg(m)
	}
	err := s.ClientStream.RecvMsg(m)
	if err == nil {
		if res, ok := m.(*pubsubpb.StreamingPullResponse); ok && res.SubscriptionProperties != nil {
			s.g.exactlyOnce.Store(res.SubscriptionProperties.ExactlyOnceDeliveryEnabled)
		}
		return nil
	}
	s.mu.Lock()
	draining := s.state != streamOpen
	if draining {
		s.state = streamQuiet
	}
	s.mu.Unlock()
	if draining {
		s.end()
		return s.quiet.RecvMsg(m)
	}
	return err
}

func (s *gatedStream) SendMsg(m any) error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.getState() != streamOpen {
		return nil
	}
	return s.ClientStream.SendMsg(m)
}

func (s *gatedStream) CloseSend() error {
	s.sendMu.Lock()
	defer s.sendMu.Unlock()
	if s.getState() != streamOpen {
		return nil
	}
	return s.ClientStream.CloseSend()
}

// quietStream is a stream on which nothing ever arrives: receiving blocks
// until the caller's context ends.
type quietStream struct {
	ctx context.Context
}

func (q *quietStream) Header() (metadata.MD, error) { return metadata.MD{}, nil }
func (q *quietStream) Trailer() metadata.MD         { return metadata.MD{} }
func (q *quietStream) CloseSend() error             { return nil }
func (q *quietStream) Context() context.Context     { return q.ctx }
func (q *quietStream) SendMsg(any) error            { return nil }

func (q *quietStream) RecvMsg(any) error {
	<-q.ctx.Done()
	return status.FromContextError(q.ctx.Err()).Err()
}
