package config_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/kelseyhightower/envconfig"
	"github.com/seed8104ecd5/gizmo/config"
)

// level parses itself through envconfig's Decoder interface.
type level int

func (l *level) Decode(s string) error {
	switch s {
	case "debug":
		*l = -4
	case "info":
		*l = 0
	default:
		return fmt.Errorf("unknown level %q", s)
	}
	return nil
}

type Embedded struct {
	Region string `default:"eu"`
}

type envSpec struct {
	Embedded
	Name        string
	MaxIdleConn int           `split_words:"true" default:"2"`
	HTTPServer  string        `split_words:"true"`
	Timeout     time.Duration `default:"1s"`
	Hosts       []string
	Weights     map[string]int
	Ratio       float64
	Debug       bool
	Level       level `default:"info"`
	Port        *uint16
	Renamed     string `envconfig:"OTHER_NAME"`
	Skipped     string `ignored:"true"`
	unexported  string
	DB          struct {
		User     string `default:"app"`
		Password string `secret:"true"`
		Pool     struct {
			Size int `default:"4"`
		}
	}
	Cache *struct {
		TTL time.Duration `split_words:"true"`
	}
	At time.Time
}

// TestEnvMatchesEnvconfig sets every variable envconfig itself expects for
// envSpec and checks that LoadEnv fills the struct exactly as
// envconfig.Process does.
func TestEnvMatchesEnvconfig(t *testing.T) {
	var keys bytes.Buffer
	if err := envconfig.Usagef("DIFF", &envSpec{}, &keys, "{{range .}}{{.Key}} {{.Field.Type}}\n{{end}}"); err != nil {
		t.Fatal(err)
	}
	values := map[string]string{
		"string": "s", "int": "0x10", "time.Duration": "90s", "[]string": "a,b",
		"map[string]int": "x:1,y:2", "float64": "0.5", "bool": "true", "config_test.level": "debug",
		"*config_test.level": "debug", "*uint16": "8080", "time.Time": "2024-05-06T07:08:09Z",
	}
	lines := strings.Split(strings.TrimSpace(keys.String()), "\n")
	if len(lines) != 17 {
		t.Fatalf("envconfig lists %d variables, want 17:\n%s", len(lines), keys.String())
	}
	for _, line := range lines {
		key, typ, _ := strings.Cut(line, " ")
		val, ok := values[typ]
		if !ok {
			t.Fatalf("no test value for %s of type %s", key, typ)
		}
		t.Setenv(key, val)
	}
	var want, got envSpec
	if err := envconfig.Process("DIFF", &want); err != nil {
		t.Fatal(err)
	}
	if err := config.LoadEnv("DIFF", &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LoadEnv differs from envconfig.Process\n got %+v\nwant %+v", got, want)
	}
	if got.Region != "s" || got.MaxIdleConn != 16 || got.DB.Pool.Size != 16 || got.Cache == nil || got.Cache.TTL != 90*time.Second {
		t.Errorf("variables were not applied: %+v", got)
	}
}

// TestEnvOnlySetVariables checks the Env layer: unset variables change
// nothing (no defaults, no allocation of nil struct pointers) and the
// envconfig tag's unprefixed name works as with envconfig.
func TestEnvOnlySetVariables(t *testing.T) {
	t.Setenv("ONLY_DB_USER", "env-user")
	t.Setenv("OTHER_NAME", "alt")
	v := envSpec{Name: "kept", MaxIdleConn: 7, unexported: "u"}
	v.DB.Pool.Size = 9
	if err := config.Load(context.Background(), &v, config.Env("ONLY")); err != nil {
		t.Fatal(err)
	}
	if v.Name != "kept" || v.unexported != "u" || v.MaxIdleConn != 7 || v.DB.Pool.Size != 9 || v.Timeout != 0 || v.Level != 0 {
		t.Errorf("unset variables changed fields: %+v", v)
	}
	if v.DB.User != "env-user" || v.Renamed != "alt" {
		t.Errorf("set variables not applied: DB.User=%q Renamed=%q", v.DB.User, v.Renamed)
	}
	if v.Cache != nil || v.Port != nil {
		t.Errorf("nil pointers were allocated without a variable: %+v %v", v.Cache, v.Port)
	}

	var d envSpec
	if err := config.Load(context.Background(), &d, config.Defaults()); err != nil {
		t.Fatal(err)
	}
	if d.Region != "eu" || d.MaxIdleConn != 2 || d.Timeout != time.Second || d.Level != 0 || d.DB.User != "app" || d.DB.Pool.Size != 4 {
		t.Errorf("defaults not applied: %+v", d)
	}
}

// TestEnvPointerToDecoder covers a field envconfig.Process itself cannot
// fill (it calls Decode on a nil pointer and panics): the pointer is
// allocated first.
func TestEnvPointerToDecoder(t *testing.T) {
	var v struct{ Level *level }
	t.Setenv("PD_LEVEL", "debug")
	if err := config.LoadEnv("PD", &v); err != nil {
		t.Fatal(err)
	}
	if v.Level == nil || *v.Level != -4 {
		t.Errorf("Level = %v, want -4", v.Level)
	}
}

func TestEnvErrors(t *testing.T) {
	for _, tt := range []struct {
		vars map[string]string
		want string
	}{
		{map[string]string{"EE_PORT": "70000"}, `config: env: EE_PORT: cannot parse "70000" as uint16: value out of range`},
		{map[string]string{"EE_LEVEL": "loud"}, `config: env: EE_LEVEL: cannot parse "loud" as config_test.level: unknown level "loud"`},
		{map[string]string{"EE_TIMEOUT": "soon"}, `config: env: EE_TIMEOUT: cannot parse "soon" as time.Duration: time: invalid duration "soon"`},
		{map[string]string{"EE_WEIGHTS": "a=1"}, `config: env: EE_WEIGHTS: cannot parse "a=1" as map[string]int: invalid map item: "a=1"`},
		{map[string]string{"EE_DEBUG": "maybe"}, `config: env: EE_DEBUG: cannot parse "maybe" as bool`},
	} {
		t.Run(tt.want[13:30], func(t *testing.T) {
			for k, v := range tt.vars {
				t.Setenv(k, v)
			}
			var v envSpec
			err := config.Load(context.Background(), &v, config.Env("EE"))
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v\nwant %s", err, tt.want)
			}
		})
	}
}

// TestEnvSecretNotInError checks that a secret's value never reaches an
// error message.
func TestEnvSecretNotInError(t *testing.T) {
	type spec struct {
		PIN int `secret:"true"`
	}
	t.Setenv("SEC_PIN", "hunter2")
	var v spec
	err := config.LoadEnv("SEC", &v)
	want := `config: env: SEC_PIN: cannot parse <redacted> as int`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
}

func TestBadDefaultTag(t *testing.T) {
	type spec struct {
		Inner struct {
			Port int `default:"eighty"`
		}
	}
	var v spec
	err := config.Load(context.Background(), &v, config.Defaults())
	want := `config: defaults: Inner.Port: cannot parse "eighty" as int`
	if err == nil || err.Error() != want {
		t.Fatalf("got %v, want %s", err, want)
	}
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Source != "defaults" || ce.Field != "Inner.Port" {
		t.Errorf("Error fields: %+v", ce)
	}
}
