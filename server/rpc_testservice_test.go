package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/seed8104ecd5/gizmo/server/internal/testpb"
)

// Test commands understood by echoService. Any other message is echoed.
const (
	cmdPanic    = "panic"             // the handler panics with secretPanicText
	cmdSlow     = "slow"              // the handler blocks until release is closed
	cmdID       = "request-id"        // the handler answers with RequestID(ctx)
	cmdTrace    = "trace-id"          // the handler answers with the span's trace ID
	cmdDeadline = "own-deadline"      // the handler returns its own expired deadline's ctx.Err(), wrapped
	panicSecret = "panicSecret-panic" // must never reach a client
)

// echoService implements testpb.EchoService for the tests.
type echoService struct {
	testpb.UnimplementedEchoServiceServer

	entered chan struct{} // receives once per slow call that started
	release chan struct{} // closed to let slow calls finish
	once    sync.Once
}

func newEchoService() *echoService {
	return &echoService{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

// releaseSlow lets every blocked slow call return.
func (e *echoService) releaseSlow() { e.once.Do(func() { close(e.release) }) }

func (e *echoService) answer(ctx context.Context, msg string) (string, error) {
	switch msg {
	case cmdPanic:
		panic(panicSecret)
	case cmdSlow:
		e.entered <- struct{}{}
		select {
		case <-e.release:
			return "done", nil
		case <-ctx.Done():
			return "", ctx.Err()
		}
	case cmdID:
		return RequestID(ctx), nil
	case cmdTrace:
		return rpcSpanTraceID(ctx), nil
	case cmdDeadline:
		ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		<-ctx.Done()
		return "", fmt.Errorf("waiting for the database: %w", ctx.Err())
	}
	return msg, nil
}

func (e *echoService) Echo(ctx context.Context, req *testpb.EchoRequest) (*testpb.EchoResponse, error) {
	msg, err := e.answer(ctx, req.GetMessage())
	if err != nil {
		return nil, err
	}
	return &testpb.EchoResponse{Message: msg}, nil
}

func (e *echoService) EchoStream(req *testpb.EchoStreamRequest, stream grpc.ServerStreamingServer[testpb.EchoResponse]) error {
	msg, err := e.answer(stream.Context(), req.GetMessage())
	if err != nil {
		return err
	}
	for i := range req.GetCount() {
		if err := stream.Send(&testpb.EchoResponse{Message: msg, Index: i}); err != nil {
			return err
		}
	}
	return nil
}

// dial connects a client to addr; creds nil means plain text.
func rpcDial(t testing.TB, addr string, creds credentials.TransportCredentials) (testpb.EchoServiceClient, *grpc.ClientConn) {
	t.Helper()
	if creds == nil {
		creds = insecure.NewCredentials()
	}
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("grpc.NewClient(%s): %v", addr, err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return testpb.NewEchoServiceClient(cc), cc
}

// rpcTestCtx returns a context bounded by a generous liveness timeout.
func rpcTestCtx(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// selfSignedCert writes a self-signed certificate for 127.0.0.1 and its key
// to dir and returns the file names and a pool that trusts the certificate.
func selfSignedCert(t testing.TB, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "gizmo test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(dir, "cert.pem")
	keyFile = filepath.Join(dir, "key.pem")
	write := func(name, typ string, b []byte) {
		if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(certFile, "CERTIFICATE", der)
	write(keyFile, "PRIVATE KEY", keyDER)
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// rpcClientTLS is the client side of selfSignedCert.
func rpcClientTLS(pool *x509.CertPool) *tls.Config {
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// rpcWaitFor polls cond until it holds or a generous liveness bound passes.
func rpcWaitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// rpcSpanTraceID returns the trace ID of the span in ctx, or "".
func rpcSpanTraceID(ctx context.Context) string {
	if sc := trace.SpanContextFromContext(ctx); sc.HasTraceID() {
		return sc.TraceID().String()
	}
	return ""
}
