package kafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// TestSaramaConfig checks what the adapter's guarantees rest on, as built
// from a Config.
func TestSaramaConfig(t *testing.T) {
	cfg := Config{Brokers: []string{"k:9092"}, Acks: "all", Idempotent: true, Compression: "lz4", Partitioner: "crc32",
		InitialOffset: "oldest", Balance: "sticky", Linger: 5 * time.Millisecond, AutoCreateTopics: true}.WithDefaults()
	sc, err := cfg.saramaConfig()
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case sc.Net.MaxOpenRequests != 1:
		t.Error("more than one request in flight: a retried produce could overtake a later one")
	case !sc.Producer.Return.Successes || !sc.Producer.Return.Errors:
		t.Error("the producer does not return every outcome: publishes would never complete")
	case sc.Producer.RequiredAcks != sarama.WaitForAll || !sc.Producer.Idempotent:
		t.Error("acks or idempotence not applied")
	case sc.Producer.Compression != sarama.CompressionLZ4:
		t.Error("compression not applied")
	case sc.Producer.Flush.Frequency != 5*time.Millisecond || sc.Producer.Flush.Messages != 1000:
		t.Errorf("linger: flush %v / %d", sc.Producer.Flush.Frequency, sc.Producer.Flush.Messages)
	case sc.Consumer.Offsets.Initial != sarama.OffsetOldest || !sc.Consumer.Offsets.AutoCommit.Enable:
		t.Error("initial offset or commits not applied")
	case sc.Consumer.Group.Rebalance.GroupStrategies[0].Name() != "sticky":
		t.Error("balance strategy not applied")
	case !sc.Metadata.AllowAutoTopicCreation || !sc.Consumer.Return.Errors:
		t.Error("auto-creation or consumer errors not applied")
	}
	if p := sc.Producer.Partitioner("t"); p == nil {
		t.Error("no partitioner")
	}
	cfg.Linger = 0
	if sc, _ := cfg.saramaConfig(); sc.Producer.Flush.Frequency != 0 {
		t.Error("sync mode lingers")
	}
}

func TestSaramaConfigSecurity(t *testing.T) {
	dir := t.TempDir()
	ca, cert, key := writeTestCert(t, dir)
	for _, mech := range []string{"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"} {
		cfg := Config{Brokers: []string{"k:9093"}, TLS: true, TLSCAFile: ca, TLSCertFile: cert, TLSKeyFile: key, TLSServerName: "kafka.internal",
			SASLMechanism: mech, SASLUser: "u", SASLPassword: "p"}.WithDefaults()
		if err := cfg.Validate(); err != nil {
			t.Fatal(err)
		}
		sc, err := cfg.saramaConfig()
		if err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		tc := sc.Net.TLS.Config
		if !sc.Net.TLS.Enable || tc.RootCAs == nil || len(tc.Certificates) != 1 || tc.ServerName != "kafka.internal" || tc.InsecureSkipVerify {
			t.Errorf("%s: TLS config %+v", mech, tc)
		}
		if !sc.Net.SASL.Enable || string(sc.Net.SASL.Mechanism) != mech || sc.Net.SASL.User != "u" || sc.Net.SASL.Password != "p" {
			t.Errorf("%s: SASL %+v", mech, sc.Net.SASL)
		}
		if strings.HasPrefix(mech, "SCRAM") {
			c, ok := sc.Net.SASL.SCRAMClientGeneratorFunc().(*scramClient)
			if !ok {
				t.Fatalf("%s: no SCRAM client", mech)
			}
			if want := map[string]int{"SCRAM-SHA-256": 32, "SCRAM-SHA-512": 64}[mech]; c.h().Size() != want {
				t.Errorf("%s: hash of %d bytes", mech, c.h().Size())
			}
		}
	}
	bad := Config{Brokers: []string{"k:9093"}, TLS: true, TLSCAFile: filepath.Join(dir, "missing.pem")}.WithDefaults()
	if _, err := bad.saramaConfig(); err == nil || !strings.Contains(err.Error(), "KAFKA_TLS_CA_FILE") {
		t.Errorf("a missing CA file: %v", err)
	}
}

// writeTestCert writes a self-signed CA and a client certificate and key.
func writeTestCert(t *testing.T, dir string) (ca, cert, key string) {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := write("cert.pem", "CERTIFICATE", der)
	return c, c, write("key.pem", "EC PRIVATE KEY", kder)
}
