package http_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	pubsubhttp "github.com/seed8104ecd5/gizmo/pubsub/http"
)

// testCert is a certificate with its key, and both as PEM files.
type testCert struct {
	cert     *x509.Certificate
	key      crypto.Signer
	certFile string
	keyFile  string
}

func (c *testCert) tlsCert() tls.Certificate {
	return tls.Certificate{Certificate: [][]byte{c.cert.Raw}, PrivateKey: c.key, Leaf: c.cert}
}

// newCert makes a certificate for 127.0.0.1 signed by ca (self-signed, a
// CA, if ca is nil), with key (a new P-256 key if nil), and writes PEM
// files to dir.
func newCert(t *testing.T, dir, name string, ca *testCert, key crypto.Signer, usage ...x509.ExtKeyUsage) *testCert {
	t.Helper()
	if key == nil {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		key = k
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  usage,
	}
	parent, signer := tmpl, key
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	} else {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	c := &testCert{cert: cert, key: key, certFile: filepath.Join(dir, name+".pem"), keyFile: filepath.Join(dir, name+"-key.pem")}
	if err := os.WriteFile(c.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(c.keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPublisherTLS publishes over https to a push subscriber that
// requires a client certificate: the CA and the client certificate come
// from the Config's files.
func TestPublisherTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := newCert(t, dir, "ca", nil, nil)
	server := newCert(t, dir, "server", ca, nil, x509.ExtKeyUsageServerAuth)
	client := newCert(t, dir, "client", ca, nil, x509.ExtKeyUsageClientAuth)
	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)

	sub, err := pubsubhttp.NewSubscriber(pubsubhttp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	ch := sub.Start()
	var peer atomic.Value
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			peer.Store(r.TLS.PeerCertificates[0].Subject.CommonName)
		}
		sub.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{server.tlsCert()}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the untrusting client's handshake fails on purpose
	srv.StartTLS()
	t.Cleanup(func() {
		_ = sub.Stop(context.Background())
		srv.Close()
	})

	p := newPub(t, pubsubhttp.Config{URL: srv.URL, TLSCAFile: ca.certFile, TLSCertFile: client.certFile, TLSKeyFile: client.keyFile})
	res := goPublish(t, p, "k", []byte("over TLS"))
	m := recv(t, ch)
	if string(m.Message()) != "over TLS" || m.Key() != "k" {
		t.Errorf("got %q key %q", m.Message(), m.Key())
	}
	if err := m.Done(); err != nil {
		t.Fatal(err)
	}
	if err := result(t, res); err != nil {
		t.Fatalf("PublishRaw over mutual TLS: %v", err)
	}
	if got, _ := peer.Load().(string); got != "client" {
		t.Errorf("the server saw client certificate %q, want the one from TLSCertFile", got)
	}

	// Without the CA, the server's certificate does not verify: that is
	// permanent, not retried.
	var attempts atomic.Int32
	untrusting := newPub(t, pubsubhttp.Config{URL: srv.URL, InitialBackoff: time.Millisecond, MaxBackoff: time.Millisecond},
		pubsubhttp.WithHeaders(func(context.Context, http.Header) error { attempts.Add(1); return nil }))
	err = untrusting.PublishRaw(t.Context(), "", []byte("x"))
	var verr *tls.CertificateVerificationError
	if !errors.As(err, &verr) {
		t.Errorf("PublishRaw to a server the publisher does not trust = %v, want a certificate verification error", err)
	}
	if n := attempts.Load(); n != 1 {
		t.Errorf("%d attempts, want 1: a certificate that does not verify is permanent", n)
	}
}
