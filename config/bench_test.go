package config_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/kelseyhightower/envconfig"
	"github.com/seed8104ecd5/gizmo/config"
)

// setBenchEnv sets every variable of envSpec under prefix BENCH.
func setBenchEnv(b *testing.B) {
	for k, v := range map[string]string{
		"BENCH_REGION": "eu", "BENCH_NAME": "n", "BENCH_MAX_IDLE_CONN": "3", "BENCH_HTTP_SERVER": "h",
		"BENCH_TIMEOUT": "2s", "BENCH_HOSTS": "a,b,c", "BENCH_WEIGHTS": "a:1,b:2", "BENCH_RATIO": "0.5",
		"BENCH_DEBUG": "true", "BENCH_LEVEL": "debug", "BENCH_PORT": "8080", "BENCH_OTHER_NAME": "o",
		"BENCH_DB_USER": "u", "BENCH_DB_PASSWORD": "p", "BENCH_DB_POOL_SIZE": "8", "BENCH_CACHE_TTL": "1m",
		"BENCH_AT": "2024-05-06T07:08:09Z",
	} {
		b.Setenv(k, v)
	}
}

// BenchmarkEnv compares LoadEnv with envconfig.Process on the same struct
// with all 17 variables set: the price of parsing field by field.
func BenchmarkEnv(b *testing.B) {
	setBenchEnv(b)
	b.Run("envconfig.Process", func(b *testing.B) {
		for b.Loop() {
			var v envSpec
			if err := envconfig.Process("BENCH", &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("config.LoadEnv", func(b *testing.B) {
		for b.Loop() {
			var v envSpec
			if err := config.LoadEnv("BENCH", &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkLoad measures a whole layered load without Consul: defaults, a
// JSON document and the environment, on a deep copy of the target.
func BenchmarkLoad(b *testing.B) {
	setBenchEnv(b)
	doc := []byte(`{"port": 8080, "hosts": ["a", "b"], "labels": {"k": "v"}, "region": "eu"}`)
	b.Run("LoadJSON", func(b *testing.B) {
		for b.Loop() {
			var v jsonCfg
			if err := config.LoadJSON(bytes.NewReader(doc), &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Load(Defaults,Env)", func(b *testing.B) {
		for b.Loop() {
			var v envSpec
			if err := config.Load(context.Background(), &v, config.Defaults(), config.Env("BENCH")); err != nil {
				b.Fatal(err)
			}
		}
	})
}
