package config_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/seed8104ecd5/gizmo/config"
)

type layered struct {
	OnlyDefault string `json:"only_default" default:"d"`
	FileWins    string `json:"file_wins" default:"d"`
	ConsulWins  string `json:"consul_wins" default:"d"`
	EnvWins     string `json:"env_wins" default:"d" split_words:"true"`
	FileOnly    int    `json:"file_only" split_words:"true"`
	ConsulOnly  int    `json:"consul_only" default:"1" split_words:"true"`
	Nested      struct {
		X string `json:"x" default:"dx"`
		Y string `json:"y"`
		Z string `json:"z" default:"dz"`
	} `json:"nested"`
	Tags   []string          `json:"tags" default:"a,b"`
	Labels map[string]string `json:"labels" default:"k1:d"`
	TLS    *struct {
		Cert string `json:"cert"`
	} `json:"tls"`
}

// TestPrecedence loads all four layers and checks that each field comes from
// the last layer that mentions it, and that a later layer leaves alone what
// it does not mention.
func TestPrecedence(t *testing.T) {
	c := consulClient(t)
	key := testKey(t, c)
	putKey(t, c, key, `{"consul_wins":"consul","env_wins":"consul","consul_only":9,
		"nested":{"x":"consul-x"},"labels":{"k2":"consul"}}`)
	path := writeFile(t, `{"file_wins":"file","consul_wins":"file","env_wins":"file","file_only":5,
		"nested":{"y":"file-y","x":"file-x"},"tags":["f"],"labels":{"k1":"file"}}`)
	t.Setenv("PREC_ENV_WINS", "env")
	t.Setenv("PREC_NESTED_Y", "env-y")

	var got layered
	err := config.Load(context.Background(), &got,
		config.Defaults(), config.File(path), config.Consul(c, key), config.Env("PREC"))
	if err != nil {
		t.Fatal(err)
	}
	want := layered{
		OnlyDefault: "d", FileWins: "file", ConsulWins: "consul", EnvWins: "env",
		FileOnly: 5, ConsulOnly: 9,
		Tags:   []string{"f"},
		Labels: map[string]string{"k1": "file", "k2": "consul"},
	}
	want.Nested.X, want.Nested.Y, want.Nested.Z = "consul-x", "env-y", "dz"
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if got.TLS != nil {
		t.Errorf("TLS = %+v, want nil: no layer mentioned it", got.TLS)
	}

	// The order of the arguments is the precedence: file after env wins.
	var rev layered
	if err := config.Load(context.Background(), &rev, config.Env("PREC"), config.File(path)); err != nil {
		t.Fatal(err)
	}
	if rev.EnvWins != "file" || rev.Nested.Y != "file-y" {
		t.Errorf("file after env: EnvWins=%q Nested.Y=%q, want file values", rev.EnvWins, rev.Nested.Y)
	}
	if rev.OnlyDefault != "" {
		t.Errorf("Env applied a default: OnlyDefault=%q", rev.OnlyDefault)
	}
}

// TestEnvSetButEmpty checks that a variable set to "" does override: set is
// set, as with envconfig.
func TestEnvSetButEmpty(t *testing.T) {
	t.Setenv("EMPTY_FILEWINS", "") // no split_words: one word
	v := layered{FileWins: "file"}
	if err := config.Load(context.Background(), &v, config.Env("EMPTY")); err != nil {
		t.Fatal(err)
	}
	if v.FileWins != "" {
		t.Errorf("FileWins = %q, want empty", v.FileWins)
	}
}

type validated struct {
	Port  int               `json:"port" default:"80"`
	Names map[string]string `json:"names"`
}

func (v *validated) Validate() error {
	if v.Port <= 0 || v.Port > 65535 {
		return fmt.Errorf("port %d out of range", v.Port)
	}
	return nil
}

// TestLoadAllOrNothing checks that a failing source or Validate leaves the
// target exactly as it was, maps included.
func TestLoadAllOrNothing(t *testing.T) {
	good := writeFile(t, `{"port": 8080, "names": {"b": "file"}}`)
	bad := writeFile(t, `{"port": 99999}`)
	v := validated{Port: 1, Names: map[string]string{"a": "orig"}}

	err := config.Load(context.Background(), &v, config.File(good), config.File(bad))
	if err == nil || err.Error() != "config: validate: port 99999 out of range" {
		t.Fatalf("got %v, want the Validate error", err)
	}
	want := validated{Port: 1, Names: map[string]string{"a": "orig"}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("after a failed Load: %+v, want it unchanged %+v", v, want)
	}

	if err := config.Load(context.Background(), &v, config.Defaults(), config.File(good)); err != nil {
		t.Fatal(err)
	}
	want = validated{Port: 8080, Names: map[string]string{"a": "orig", "b": "file"}}
	if !reflect.DeepEqual(v, want) {
		t.Errorf("got %+v, want %+v", v, want)
	}
}

// TestOptional checks that Optional skips only a missing document.
func TestOptional(t *testing.T) {
	c := consulClient(t)
	missing := filepath.Join(t.TempDir(), "none.json")
	v := validated{Port: 7}
	err := config.Load(context.Background(), &v,
		config.Optional(config.File(missing)), config.Optional(config.Consul(c, testKey(t, c))))
	if err != nil || v.Port != 7 {
		t.Fatalf("optional missing sources: err=%v port=%d", err, v.Port)
	}
	err = config.Load(context.Background(), &v, config.File(missing))
	if want := fmt.Sprintf("config: file %q: no such file or directory", missing); err == nil || err.Error() != want {
		t.Errorf("required missing file: got %v, want %s", err, want)
	}
	broken := writeFile(t, `{"port": }`)
	err = config.Load(context.Background(), &v, config.Optional(config.File(broken)))
	want := fmt.Sprintf(`config: file %q: line 1, column 10: invalid character '}' looking for beginning of value`, broken)
	if err == nil || err.Error() != want {
		t.Errorf("optional broken file: got %v, want %s", err, want)
	}
}

// customSource is a user-written Source.
type customSource struct{ port int }

func (customSource) Name() string { return "flags" }
func (s customSource) Load(_ context.Context, v any) error {
	cfg, ok := v.(*validated)
	if !ok {
		return fmt.Errorf("unsupported target %T", v)
	}
	if s.port < 0 {
		return errors.New("bad -port")
	}
	cfg.Port = s.port
	return nil
}

func TestCustomSource(t *testing.T) {
	var v validated
	if err := config.Load(context.Background(), &v, config.Defaults(), customSource{port: 9000}); err != nil {
		t.Fatal(err)
	}
	if v.Port != 9000 {
		t.Errorf("Port = %d, want 9000", v.Port)
	}
	err := config.Load(context.Background(), &v, customSource{port: -1})
	if err == nil || err.Error() != "config: flags: bad -port" {
		t.Errorf("got %v, want the source named in the error", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = config.Load(ctx, &v, customSource{port: 1})
	if !errors.Is(err, context.Canceled) || err.Error() != "config: flags: context canceled" {
		t.Errorf("cancelled context: got %v", err)
	}
}

func TestLoadBadTarget(t *testing.T) {
	var v validated
	for _, tt := range []struct {
		err  error
		want string
	}{
		{config.Load(context.Background(), nil), "config: load: cannot load into <nil>: target must be a non-nil pointer to a struct"},
		{config.Load(context.Background(), v, config.Defaults()), "config: load: cannot load into config_test.validated: target must be a non-nil pointer to a struct"},
		{config.LoadEnv("X", &[]int{}), "config: defaults: cannot load into *[]int: target must be a non-nil pointer to a struct"},
		{config.LoadJSON(stringsReader(`{}`), v), "config: json: cannot decode into config_test.validated: target must be a non-nil pointer"},
	} {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("got %v, want %s", tt.err, tt.want)
		}
	}
}
