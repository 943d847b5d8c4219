package config_test

import (
	"bytes"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/seed8104ecd5/gizmo/config"
)

type dbCfg struct {
	User     string `json:"user"`
	Password string `json:"password" secret:"true"`
}

type secretCfg struct {
	Name    string
	DB      dbCfg
	Replica *dbCfg
	Shards  []dbCfg
	ByZone  map[string]dbCfg
	Any     any
	Key     []byte   `secret:"true"`
	APIKeys []string `secret:"true"`
	PIN     int      `secret:"true"`
	Token   *string  `secret:"true"`
	Empty   string   `secret:"true"`
	Creds   dbCfg    `secret:"true"`
}

func newSecretCfg() secretCfg {
	tok := "tok"
	return secretCfg{
		Name:    "svc",
		DB:      dbCfg{User: "u", Password: "p1"},
		Replica: &dbCfg{User: "r", Password: "p2"},
		Shards:  []dbCfg{{User: "s", Password: "p3"}},
		ByZone:  map[string]dbCfg{"z": {User: "z", Password: "p4"}},
		Any:     &dbCfg{User: "a", Password: "p5"},
		Key:     []byte("k"),
		APIKeys: []string{"k1", "k2"},
		PIN:     1234,
		Token:   &tok,
		Creds:   dbCfg{User: "cu", Password: "cp"},
	}
}

func TestRedact(t *testing.T) {
	orig := newSecretCfg()
	got := config.Redact(orig).(secretCfg)

	const R = config.RedactedValue
	red := "[REDACTED]"
	want := secretCfg{
		Name:    "svc",
		DB:      dbCfg{User: "u", Password: R},
		Replica: &dbCfg{User: "r", Password: R},
		Shards:  []dbCfg{{User: "s", Password: R}},
		ByZone:  map[string]dbCfg{"z": {User: "z", Password: R}},
		Any:     &dbCfg{User: "a", Password: R},
		Key:     []byte(R),
		APIKeys: []string{R, R},
		Token:   &red,
		Creds:   dbCfg{User: R, Password: R},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(orig, newSecretCfg()) {
		t.Errorf("Redact modified its argument: %+v", orig)
	}
	// A pointer in gives a pointer out.
	p := config.Redact(&orig).(*secretCfg)
	if p == &orig || p.DB.Password != R || orig.DB.Password != "p1" {
		t.Errorf("pointer: got %+v", p)
	}
	if config.Redact(nil) != nil {
		t.Error("Redact(nil) != nil")
	}
}

func TestRedactCycle(t *testing.T) {
	type node struct {
		Secret string `secret:"true"`
		Next   *node
	}
	n := &node{Secret: "s"}
	n.Next = n
	got := config.Redact(n).(*node)
	if got.Secret != config.RedactedValue || got.Next != got || n.Secret != "s" {
		t.Errorf("cycle: got %+v", got)
	}
}

func TestLogValue(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	cfg := newSecretCfg()
	logger.Info("loaded", "cfg", config.LogValue(cfg))
	out := buf.String()
	for _, secret := range []string{"p1", "p2", "p3", "p4", "p5", "k1", "1234", "tok", "cp"} {
		if strings.Contains(out, secret) {
			t.Errorf("log output contains secret %q: %s", secret, out)
		}
	}
	for _, want := range []string{"cfg.Name=svc", "cfg.DB.User=u", "cfg.DB.Password=[REDACTED]", "cfg.Replica.User=r", "cfg.PIN=0"} {
		if !strings.Contains(out, want) {
			t.Errorf("log output lacks %q: %s", want, out)
		}
	}
}
