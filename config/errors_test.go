package config_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/consul/api"
	"github.com/seed8104ecd5/gizmo/config"
)

type badCfg struct {
	HTTP struct {
		Port int    `json:"port"`
		Host string `json:"host"`
	} `json:"http"`
	Workers []struct {
		Name string `json:"name"`
	} `json:"workers"`
	Limits map[string]struct {
		Max uint8 `json:"max"`
	} `json:"limits"`
	Token string `json:"token" required:"true"`
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "app.json")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestBadInput checks the exact text of every kind of error a user can meet.
func TestBadInput(t *testing.T) {
	c := consulClient(t)
	missingKey := testKey(t, c)
	badKey := testKey(t, c)
	putKey(t, c, badKey, "{\n\t\"http\": {\"port\": 1, \"host\": 2}\n}")
	down := closedAddr(t)

	aclAddr, mgmt := startACLAgent(t)
	aclKey := "gizmo-config-test/acl"
	putKey(t, newClient(t, aclAddr, mgmt), aclKey, `{"token":"x"}`)

	tests := []struct {
		name  string
		load  func(t *testing.T, v *badCfg) error
		want  string
		check func(t *testing.T, err error) // more than the text, if needed
	}{{
		name: "malformed json file",
		load: func(t *testing.T, v *badCfg) error {
			path := writeFile(t, "{\n  \"http\": {\n    \"port\": 80,\n  }\n}\n")
			t.Setenv("WANT_PATH", path)
			return config.LoadJSONFile(path, v)
		},
		want: `config: file "$WANT_PATH": line 4, column 3: invalid character '}' looking for beginning of object key string`,
	}, {
		name: "truncated json",
		load: func(t *testing.T, v *badCfg) error {
			return config.LoadJSON(stringsReader("{\"http\": {\"port\": 8"), v, config.SourceName("stdin"))
		},
		want: `config: stdin: line 1, column 20: unexpected end of JSON input`,
	}, {
		name: "wrong type names the field",
		load: func(t *testing.T, v *badCfg) error {
			path := writeFile(t, "{\"http\": {\"port\": \"eighty\"}}")
			t.Setenv("WANT_PATH", path)
			return config.LoadJSONFile(path, v)
		},
		want: `config: file "$WANT_PATH": line 1, column 19: http.port: cannot unmarshal string into int`,
	}, {
		name: "wrong type in a slice element",
		load: func(t *testing.T, v *badCfg) error {
			return config.LoadJSON(stringsReader(`{"workers": [{"name": "a"}, {"name": 7}]}`), v)
		},
		want: `config: json: line 1, column 38: workers[1].name: cannot unmarshal number into string`,
	}, {
		name: "out of range in a map value (columns count runes)",
		load: func(t *testing.T, v *badCfg) error {
			return config.LoadJSON(stringsReader("{\"limits\": {\n  \"émoji\": {\"max\": 300}}}"), v)
		},
		want: `config: json: line 2, column 20: limits.émoji.max: cannot unmarshal number 300 into uint8`,
	}, {
		name: "unknown field",
		load: func(t *testing.T, v *badCfg) error {
			return config.LoadJSON(stringsReader("{\"http\": {\n  \"prot\": 80}}"), v)
		},
		want: `config: json: line 2, column 3: http.prot: unknown field`,
	}, {
		name: "trailing data",
		load: func(t *testing.T, v *badCfg) error {
			return config.LoadJSON(stringsReader(`{} {}`), v)
		},
		want: `config: json: line 1, column 4: invalid data after the top-level value`,
	}, {
		name: "missing file",
		load: func(t *testing.T, v *badCfg) error {
			return config.LoadJSONFile("/nonexistent/app.json", v)
		},
		want: `config: file "/nonexistent/app.json": no such file or directory`,
	}, {
		name: "env value that does not parse",
		load: func(t *testing.T, v *badCfg) error {
			t.Setenv("BADT_TOKEN", "t")
			t.Setenv("BADT_HTTP_PORT", "abc")
			return config.LoadEnv("BADT", v)
		},
		want: `config: env: BADT_HTTP_PORT: cannot parse "abc" as int`,
	}, {
		name: "missing required env var",
		load: func(t *testing.T, v *badCfg) error {
			return config.LoadEnv("BADT", v)
		},
		want: `config: env: BADT_TOKEN: required variable is not set`,
	}, {
		name: "missing consul key",
		load: func(t *testing.T, v *badCfg) error {
			t.Setenv("WANT_KEY", missingKey)
			return config.LoadConsulKV(context.Background(), c, missingKey, v)
		},
		want: `config: consul key "$WANT_KEY": key not found`,
	}, {
		name: "bad document in consul",
		load: func(t *testing.T, v *badCfg) error {
			t.Setenv("WANT_KEY", badKey)
			return config.LoadConsulKV(context.Background(), c, badKey, v)
		},
		want: `config: consul key "$WANT_KEY": line 2, column 30: http.host: cannot unmarshal number into string`,
	}, {
		name: "consul down",
		load: func(t *testing.T, v *badCfg) error {
			t.Setenv("WANT_ADDR", down)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return config.LoadConsulKV(ctx, newClient(t, down, ""), "app/config", v)
		},
		want: `config: consul key "app/config": cannot reach consul: dial tcp $WANT_ADDR: connect: connection refused`,
	}, {
		name: "acl token rejected",
		load: func(t *testing.T, v *badCfg) error {
			bogus := newClient(t, aclAddr, "00000000-0000-4000-8000-000000000000")
			return config.LoadConsulKV(context.Background(), bogus, aclKey, v)
		},
		want: `config: consul key "gizmo-config-test/acl": permission denied by consul (HTTP 403: ACL not found)`,
		check: func(t *testing.T, err error) {
			var se api.StatusError
			if !errors.As(err, &se) || se.Code != 403 {
				t.Errorf("%v does not wrap an api.StatusError with code 403", err)
			}
		},
	}, {
		name: "anonymous token denied",
		load: func(t *testing.T, v *badCfg) error {
			return config.LoadConsulKV(context.Background(), newClient(t, aclAddr, "anonymous"), aclKey, v)
		},
		want: `config: consul key "gizmo-config-test/acl": permission denied by consul (HTTP 403: Permission denied: anonymous token lacks permission 'key:read' on "gizmo-config-test/acl". The anonymous token is used implicitly when a request does not specify a token.)`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var v badCfg
			err := tt.load(t, &v)
			want := os.ExpandEnv(tt.want)
			if err == nil {
				t.Fatalf("got no error, want %q", want)
			}
			if err.Error() != want {
				t.Errorf("error text\n got: %s\nwant: %s", err, want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Errorf("error %T is not a *config.Error", err)
			}
			if tt.check != nil {
				tt.check(t, err)
			}
		})
	}
}

// TestConsulDeadline checks that a Consul that accepts connections but never
// answers gives an error when the context's deadline passes.
func TestConsulDeadline(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			defer conn.Close() // hold the connection open, answer nothing
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		var v badCfg
		done <- config.LoadConsulKV(ctx, newClient(t, l.Addr().String(), ""), "app/config", &v)
	}()
	select {
	case err := <-done:
		want := `config: consul key "app/config": context deadline exceeded`
		if err == nil || err.Error() != want {
			t.Fatalf("got %v, want %s", err, want)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("error does not wrap context.DeadlineExceeded")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("LoadConsulKV ignored the context deadline")
	}
}

// TestMissingIsNotFound checks the sentinel errors Optional relies on.
func TestMissingIsNotFound(t *testing.T) {
	c := consulClient(t)
	var v badCfg
	err := config.LoadConsulKV(context.Background(), c, testKey(t, c), &v)
	if !errors.Is(err, config.ErrNotFound) {
		t.Errorf("missing key: %v does not wrap ErrNotFound", err)
	}
	err = config.LoadJSONFile(filepath.Join(t.TempDir(), "none.json"), &v)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v does not wrap fs.ErrNotExist", err)
	}
}

func stringsReader(s string) *strings.Reader { return strings.NewReader(s) }
