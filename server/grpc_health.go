package server

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// rpcHealth is the gRPC health service of an RPCServer: the standard
// google.golang.org/grpc/health server, tied to the server's [Readiness].
//
//   - Every registered service, and the whole server (""), is SERVING from
//     the start.
//   - When shutdown starts (Readiness.StartShutdown) every status turns
//     NOT_SERVING at once and Watch streams are told; later updates are
//     ignored (health.Server.Shutdown).
//   - Check also runs the readiness checks, so a failing check answers
//     NOT_SERVING exactly as the HTTP readiness endpoint answers 503. Watch
//     reports only the shutdown transition, not check results, because the
//     checks run on demand rather than in the background.
//   - Watch streams end (codes.Unavailable) when graceful stop begins, after
//     the drain delay: they are long-lived, and GracefulStop would otherwise
//     wait for them until the shutdown deadline.
type rpcHealth struct {
	*health.Server
	readiness *Readiness
	// watching is cancelled by endWatches.
	watching   context.Context
	endWatches context.CancelFunc
}

var _ healthpb.HealthServer = (*rpcHealth)(nil)

func newRPCHealth(rd *Readiness) *rpcHealth {
	h := &rpcHealth{Server: health.NewServer(), readiness: rd}
	h.watching, h.endWatches = context.WithCancel(context.Background())
	rd.OnShutdown(h.Server.Shutdown)
	return h
}

// Check implements the Health service's Check method.
func (h *rpcHealth) Check(ctx context.Context, in *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	resp, err := h.Server.Check(ctx, in)
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		return resp, err
	}
	if _, err := h.readiness.Check(ctx); err != nil {
		return &healthpb.HealthCheckResponse{Status: healthpb.HealthCheckResponse_NOT_SERVING}, nil
	}
	return resp, nil
}

// Watch implements the Health service's Watch method: the standard
// behaviour, until endWatches is called.
func (h *rpcHealth) Watch(in *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	stop := context.AfterFunc(h.watching, cancel)
	defer stop()
	err := h.Server.Watch(in, &watchStream{Health_WatchServer: stream, ctx: ctx})
	if h.watching.Err() != nil {
		return status.Error(codes.Unavailable, "server: shutting down")
	}
	return err
}

// watchStream is a Watch stream whose context also ends at endWatches.
type watchStream struct {
	healthpb.Health_WatchServer
	ctx context.Context
}

// Context returns the stream's context.
func (w *watchStream) Context() context.Context { return w.ctx }
