package kafka_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/pubsub/kafka"
)

// TestSASLOverTLS runs a publisher and a subscriber through TLS and each
// SASL mechanism against a broker that demands both, and checks that a
// wrong password, and an unverified certificate, are refused.
func TestSASLOverTLS(t *testing.T) {
	cert, key := writeServerCert(t, t.TempDir())
	b := startBroker(t, "",
		"-sasl-user", "PLAIN:plain-user:plain-pw",
		"-sasl-user", "SCRAM-SHA-256:s256-user:s256-pw",
		"-sasl-user", "SCRAM-SHA-512:s512-user:s512-pw",
		"-tls-cert", cert, "-tls-key", key)
	secure := func(mech, user, pw string) kafka.Config {
		cfg := testConfig(b.Addr(), []string{"secure-" + strings.ToLower(mech)}, randomName("gizmo-g-"))
		cfg.TLS, cfg.TLSCAFile = true, cert
		cfg.SASLMechanism, cfg.SASLUser, cfg.SASLPassword = mech, user, pw
		cfg.AutoCreateTopics = true
		return cfg
	}
	for _, c := range []struct{ mech, user, pw string }{
		{"PLAIN", "plain-user", "plain-pw"},
		{"SCRAM-SHA-256", "s256-user", "s256-pw"},
		{"SCRAM-SHA-512", "s512-user", "s512-pw"},
	} {
		t.Run(c.mech, func(t *testing.T) {
			cfg := secure(c.mech, c.user, c.pw)
			p, err := kafka.NewPublisher(t.Context(), cfg)
			if err != nil {
				t.Fatalf("NewPublisher: %v", err)
			}
			defer p.Close()
			if err := p.PublishRaw(t.Context(), "k", []byte("over "+c.mech)); err != nil {
				t.Fatal(err)
			}
			s, err := kafka.NewSubscriber(t.Context(), cfg)
			if err != nil {
				t.Fatalf("NewSubscriber: %v", err)
			}
			defer s.Stop(withTimeout(t, 5*time.Second))
			m := receiveN(t, s.Start(), 1)[0]
			if string(m.Message()) != "over "+c.mech {
				t.Errorf("got %q", m.Message())
			}
			_ = m.Done()

			wrong := cfg
			wrong.SASLPassword = "wrong"
			if _, err := kafka.NewPublisher(t.Context(), wrong); err == nil {
				t.Errorf("%s with a wrong password connected", c.mech)
			}
		})
	}
	noCA := secure("PLAIN", "plain-user", "plain-pw")
	noCA.TLSCAFile = ""
	if _, err := kafka.NewPublisher(t.Context(), noCA); err == nil {
		t.Error("connected to a broker whose certificate no trusted CA signed")
	}
}

// writeServerCert writes a self-signed certificate for 127.0.0.1, which
// the clients then trust as their CA.
func writeServerCert(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "kfake"},
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	cert, key = filepath.Join(dir, "server.pem"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}
