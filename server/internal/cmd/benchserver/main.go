// Command benchserver serves one JSON endpoint for load tests, either from
// a bare net/http handler or from server.SimpleServer with its default
// middleware, on 127.0.0.1 only. scripts/bench-http.sh drives it with wrk.
//
//	benchserver -mode bare   -port 18080
//	benchserver -mode mux    -port 18082   (gorilla/mux router, no middleware)
//	benchserver -mode limits -port 18083   (bare handler, SimpleServer's http.Server limits)
//	benchserver -mode simple -port 18081 [-log]
//	benchserver -mode simplemux -port 18084 (simple, routed by mux.Router.Match)
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"

	"github.com/gorilla/mux"
	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/web"
)

type user struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
}

var payload = user{ID: "42", Name: "Ann Example", Email: "ann@example.com"}

func handler(w http.ResponseWriter, _ *http.Request) {
	_ = web.WriteJSON(w, http.StatusOK, payload)
}

type users struct{}

func (users) Prefix() string                         { return "/users" }
func (users) Middleware(h http.Handler) http.Handler { return h }
func (users) Endpoints() []server.Endpoint {
	return []server.Endpoint{
		{Method: http.MethodGet, Path: "/me", Handler: http.HandlerFunc(handler)},
		{Method: http.MethodGet, Path: "/{id}", Handler: http.HandlerFunc(handler)},
	}
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "benchserver:", err)
		os.Exit(1)
	}
}

func run() error {
	mode := flag.String("mode", "simple", "bare, mux, limits, simple or simplemux")
	port := flag.Int("port", 18080, "port on 127.0.0.1")
	accessLog := flag.Bool("log", false, "simple mode: write JSON access logs to io.Discard")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile to this file until exit")
	memProfile := flag.String("memprofile", "", "write an allocation profile to this file at exit")
	flag.Parse()

	if *memProfile != "" {
		runtime.MemProfileRate = 4096
		defer func() {
			if f, err := os.Create(*memProfile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				_ = f.Close()
			}
		}()
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}

	ctx, stop := server.SignalContext(context.Background())
	defer stop()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(*port))

	switch *mode {
	case "bare", "mux", "limits":
		var h http.Handler = http.HandlerFunc(handler)
		if *mode == "mux" {
			r := mux.NewRouter()
			for _, ep := range (users{}).Endpoints() {
				r.Path("/users" + ep.Path).Methods(ep.Method).Handler(ep.Handler)
			}
			h = r
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: h}
		if *mode == "limits" {
			// The timeouts and header limit SimpleServer applies by default,
			// without its router or middleware.
			cfg := server.Config{}.WithDefaults()
			srv.ReadTimeout = cfg.HTTPReadTimeout
			srv.ReadHeaderTimeout = cfg.HTTPReadHeaderTimeout
			srv.WriteTimeout = cfg.HTTPWriteTimeout
			srv.IdleTimeout = cfg.HTTPIdleTimeout
			srv.MaxHeaderBytes = cfg.MaxHeaderBytes
		}
		go func() { <-ctx.Done(); _ = srv.Close() }()
		if err := srv.Serve(ln); err != http.ErrServerClosed {
			return err
		}
		return nil
	case "simple", "simplemux":
		var opts []server.Option
		if *accessLog {
			opts = append(opts, server.WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))))
		}
		s, err := server.NewSimpleServer(server.Config{HTTPAddr: "127.0.0.1", HTTPPort: *port}, opts...)
		if err != nil {
			return err
		}
		if err := s.Register(users{}); err != nil {
			return err
		}
		if *mode == "simplemux" {
			// Router gives up the server's route table: every request is
			// then matched by mux.Router.Match, as before the table existed.
			s.Router()
		}
		return s.Run(ctx)
	}
	return fmt.Errorf("unknown -mode %q", *mode)
}
