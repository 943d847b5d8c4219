package server_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/gorilla/mux"
	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/web"
)

// greeter is a Service with one JSON endpoint.
type greeter struct{}

func (greeter) Prefix() string                         { return "/v1/greet" }
func (greeter) Middleware(h http.Handler) http.Handler { return h }
func (greeter) Endpoints() []server.Endpoint {
	return []server.Endpoint{
		{Method: http.MethodGet, Path: "/{name}", Handler: server.JSON(greet)},
	}
}

func greet(ctx context.Context, r *http.Request) (int, any, error) {
	name := mux.Vars(r)["name"]
	if name == "nobody" {
		return 0, nil, web.NewError(http.StatusNotFound, "nobody to greet")
	}
	return http.StatusOK, map[string]string{"greeting": "hello, " + name}, nil
}

func ExampleSimpleServer() {
	s, err := server.NewSimpleServer(server.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := s.Register(greeter{}); err != nil {
		fmt.Println(err)
		return
	}
	for _, path := range []string{"/v1/greet/ann", "/v1/greet/nobody"} {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		fmt.Print(rec.Code, " ", rec.Body.String())
	}
	// Output:
	// 200 {"greeting":"hello, ann"}
	// 404 {"type":"about:blank","title":"Not Found","status":404,"detail":"nobody to greet"}
}

func ExampleSimpleServer_Run() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	s, err := server.NewSimpleServer(server.Config{}, server.WithListener(ln))
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = s.Register(greeter{})

	// In main you would use server.SignalContext(context.Background()).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()

	resp, err := http.Get("http://" + ln.Addr().String() + "/v1/greet/bob")
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Print(resp.StatusCode, " ", string(body))

	cancel() // graceful shutdown
	fmt.Println("Run returned:", <-done)
	// Output:
	// 200 {"greeting":"hello, bob"}
	// Run returned: <nil>
}

func ExampleConfig_Validate() {
	cfg := server.Config{HTTPPort: 70000, LogFormat: "xml"}
	for _, line := range strings.Split(cfg.Validate().Error(), "\n") {
		fmt.Println(line)
	}
	// Output:
	// server: HTTP_PORT: 70000 is not a valid port
	// server: LOG_FORMAT: "xml" is not one of json, text
}
