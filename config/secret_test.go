package config_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/seed8104ecd5/gizmo/config"
)

// secretText is a type whose decoder, like many, quotes what it rejects.
type secretText string

func (s *secretText) UnmarshalText(b []byte) error {
	if !strings.HasPrefix(string(b), "ok-") {
		return fmt.Errorf("secretText: %q does not start with ok-", b)
	}
	*s = secretText(b)
	return nil
}

// secretSpec has one secret field of each kind that can fail to load, and
// one plain field that shows non-secret values are still quoted.
type secretSpec struct {
	PIN     int               `json:"pin" secret:"true"`
	Timeout time.Duration     `json:"timeout" secret:"true"`
	Key     secretText        `json:"key" secret:"true"`
	Quoted  int               `json:"quoted,string" secret:"true"`
	Ports   map[string]uint16 `json:"ports" secret:"true"`
	IDs     map[int]string    `json:"ids" secret:"true"`
	DB      struct {
		Inner struct {
			N int `json:"n"`
		} `json:"inner"`
	} `json:"db" secret:"true"`
	Plain int `json:"plain"`
}

// errorChain returns err and everything reachable from it through Unwrap,
// single or multiple.
func errorChain(err error) []error {
	var out []error
	stack := []error{err}
	for len(stack) > 0 {
		e := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if e == nil {
			continue
		}
		out = append(out, e)
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			stack = append(stack, u.Unwrap())
		case interface{ Unwrap() []error }:
			stack = append(stack, u.Unwrap()...)
		}
	}
	return out
}

// checkNoSecret fails if secret appears in the text of any error in err's
// chain, in its message or its Go syntax representation.
func checkNoSecret(t *testing.T, err error, secret string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	for _, e := range errorChain(err) {
		for _, text := range []string{e.Error(), fmt.Sprintf("%#v", e), fmt.Sprintf("%+v", e)} {
			if strings.Contains(text, secret) {
				t.Errorf("error chain of %q shows the secret %q in %T: %s", err, secret, e, text)
				return
			}
		}
	}
}

// checkNames fails unless err is a *config.Error with the given source and
// field.
func checkNames(t *testing.T, err error, source, field string) {
	t.Helper()
	var ce *config.Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %T is not a *config.Error: %v", err, err)
	}
	if ce.Source != source || ce.Field != field {
		t.Errorf("error names source %q, field %q; want %q, %q (%v)", ce.Source, ce.Field, source, field, err)
	}
}

// TestSecretsNeverInErrors feeds every secret field of secretSpec a value
// it rejects, through every source, and walks the whole error chain for
// the value.
func TestSecretsNeverInErrors(t *testing.T) {
	jsonCases := []struct {
		name, doc, secret, field string
	}{
		{"float into int", `{"pin": 31337.5}`, "31337.5", "pin"},
		{"int overflow", `{"pin": 99999999999999999999999}`, "99999999999999999999999", "pin"},
		{"bad duration", `{"timeout": "hunter2-SECRET"}`, "hunter2-SECRET", "timeout"},
		{"duration as float", `{"timeout": 4242.25}`, "4242.25", "timeout"},
		{"text unmarshaler", `{"key": "hunter3-SECRET"}`, "hunter3-SECRET", "key"},
		{"string option", `{"quoted": "hunter4-SECRET"}`, "hunter4-SECRET", "quoted"},
		{"map value", `{"ports": {"a": 65536777}}`, "65536777", "ports.a"},
		{"map key", `{"ids": {"hunter5-SECRET": "x"}}`, "hunter5-SECRET", "ids"},
		{"inside a secret struct", `{"db": {"inner": {"n": 1234.5678}}}`, "1234.5678", "db.inner.n"},
	}
	for _, tc := range jsonCases {
		t.Run("json/"+tc.name, func(t *testing.T) {
			var v secretSpec
			err := config.LoadJSON(strings.NewReader(tc.doc), &v)
			checkNoSecret(t, err, tc.secret)
			checkNames(t, err, "json", tc.field)
		})
		t.Run("file/"+tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "app.json")
			if err := os.WriteFile(path, []byte(tc.doc), 0o600); err != nil {
				t.Fatal(err)
			}
			var v secretSpec
			err := config.Load(context.Background(), &v, config.File(path))
			checkNoSecret(t, err, tc.secret)
			checkNames(t, err, fmt.Sprintf("file %q", path), tc.field)
		})
		t.Run("consul/"+tc.name, func(t *testing.T) {
			c := consulClient(t)
			key := testKey(t, c)
			putKey(t, c, key, tc.doc)
			var v secretSpec
			err := config.Load(context.Background(), &v, config.Consul(c, key))
			checkNoSecret(t, err, tc.secret)
			checkNames(t, err, fmt.Sprintf("consul key %q", key), tc.field)
		})
	}

	envCases := []struct {
		name, variable, value string
	}{
		{"int", "SEC_PIN", "hunter2-SECRET"},
		{"int overflow", "SEC_PIN", "99999999999999999999999"},
		{"duration", "SEC_TIMEOUT", "hunter2-SECRET"},
		{"text unmarshaler", "SEC_KEY", "hunter3-SECRET"},
		{"map value", "SEC_PORTS", "a:hunter6-SECRET"},
		{"map item", "SEC_PORTS", "hunter7-SECRET"},
		{"inside a secret struct", "SEC_DB_INNER_N", "hunter8-SECRET"},
	}
	for _, tc := range envCases {
		t.Run("env/"+tc.name, func(t *testing.T) {
			t.Setenv(tc.variable, tc.value)
			var v secretSpec
			err := config.Load(context.Background(), &v, config.Env("SEC"))
			checkNoSecret(t, err, tc.value)
			checkNames(t, err, "env", tc.variable)
			err = config.LoadEnv("SEC", &v)
			checkNoSecret(t, err, tc.value)
			checkNames(t, err, "env", tc.variable)
		})
	}

	t.Run("env/sentinel kept", func(t *testing.T) {
		t.Setenv("SEC_PIN", "99999999999999999999999")
		var v secretSpec
		err := config.LoadEnv("SEC", &v)
		want := "config: env: SEC_PIN: cannot parse <redacted> as int: value out of range"
		if err == nil || err.Error() != want || !errors.Is(err, strconv.ErrRange) {
			t.Errorf("got %v (wraps ErrRange: %v)\nwant %s, wrapping strconv.ErrRange", err, errors.Is(err, strconv.ErrRange), want)
		}
	})

	t.Run("defaults", func(t *testing.T) {
		type spec struct {
			PIN int `default:"hunter9-SECRET" secret:"true"`
		}
		var v spec
		err := config.Load(context.Background(), &v, config.Defaults())
		checkNoSecret(t, err, "hunter9-SECRET")
		checkNames(t, err, "defaults", "PIN")
	})
}

// TestNonSecretValuesStillQuoted checks that the redaction is limited to
// secret fields: a plain field's bad value is still shown.
func TestNonSecretValuesStillQuoted(t *testing.T) {
	var v secretSpec
	err := config.LoadJSON(strings.NewReader(`{"plain": 31337.5}`), &v)
	want := `config: json: line 1, column 11: plain: cannot unmarshal number 31337.5 into int`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	t.Setenv("SEC_PLAIN", "abc")
	err = config.LoadEnv("SEC", &v)
	want = `config: env: SEC_PLAIN: cannot parse "abc" as int`
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
}
