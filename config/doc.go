// Package config fills configuration structs from layered sources: defaults
// from struct tags, JSON files, JSON documents in Consul's KV store and the
// environment. It defines no configuration of its own: each package (server,
// the pubsub adapters, a service) declares its Config struct with `json` and
// envconfig tags, and config fills it.
//
// # Layers
//
// [Load] applies sources in the order given, the later winning:
//
//	err := config.Load(ctx, &cfg,
//		config.Defaults(),                    // `default:"..."` tags
//		config.Optional(config.File(path)),   // JSON file, may be absent
//		config.Consul(client, "svc/config"),  // JSON document in Consul KV
//		config.Env("SVC"))                    // SVC_* variables that are set
//
// A source sets only what it mentions. A key absent from a JSON document, or
// a variable that is not set, leaves the field as the earlier layers made
// it: defaults are applied by [Defaults] alone, never again by [Env]. JSON
// objects merge into existing structs and maps; JSON arrays replace slices.
// Load is all or nothing: on error the target is unchanged. If the target
// has a Validate() error method ([Validator]), Load calls it last.
//
// The single-source loaders [LoadJSONFile], [LoadJSON], [LoadConsulKV] and
// [LoadEnv] are there for programs that need only one. [LoadEnv] behaves like
// envconfig.Process and applies defaults itself.
//
// A [Source] is an interface: a service may add its own (a flag set, a
// secrets manager) and place it anywhere in the list.
//
// # Errors
//
// Loaders return errors; they never exit, log or parse flags. Every error is
// an *[Error] naming the source and, where it applies, the field and the
// position, and never prints the value of a secret field (see Secrets):
//
//	config: file "app.json": line 3, column 13: http.port: cannot unmarshal string into int
//	config: file "app.json": line 2, column 3: http.prot: unknown field
//	config: env: SVC_HTTP_PORT: cannot parse "abc" as int
//	config: env: SVC_DB_PASSWORD: required variable is not set
//	config: consul key "svc/config": key not found
//
// Unknown JSON keys are errors unless [AllowUnknownFields] is given: they are
// nearly always typos. An error raised by a type's own UnmarshalJSON or
// UnmarshalText, for which encoding/json gives no position, is traced back
// to the value that caused it, so it too names the field.
//
// # Bounded parsing
//
// A JSON document (file, Consul value or watch update) may nest arrays and
// objects at most 10000 levels deep, encoding/json's own limit; a deeper
// one is refused before anything else reads it:
//
//	config: file "app.json": line 1, column 10001: nesting depth exceeds the limit of 10000
//
// Every pass this package makes over a document (the duration rewrite
// below, and locating the field of an error) costs time and memory linear
// in its size, whatever its shape. TestJSONDeepNestingRejected and
// TestJSONDeepNestingAtLimit hold this with documents 100,000 levels deep
// and at the limit, and the fuzz target FuzzLoadJSON starts from them.
//
// # Durations
//
// A time.Duration is written the same way in every source: "1m30s", in
// time.ParseDuration syntax. The environment has always read it so (through
// envconfig); the JSON loaders accept that string as well as the integer
// count of nanoseconds that plain encoding/json requires, wherever the
// duration sits (field, pointer, slice or array element, map value). A
// string that is not a duration is an error naming the field:
//
//	config: cfg.json: line 3, column 14: server.shutdown_timeout: invalid duration "10 secs": want a number with a unit, such as "300ms" or "1m30s"
//
// # Environment variable names
//
// Names follow github.com/kelseyhightower/envconfig, whose tags are used
// as-is: the prefix, an underscore, then the field name upper-cased, or the
// `envconfig:"NAME"` tag; `split_words:"true"` turns MaxIdleConns into
// MAX_IDLE_CONNS. A nested struct field adds its own name to the prefix
// (SVC_HTTP_PORT for field Port of field HTTP); an embedded struct adds
// nothing. `ignored:"true"` skips a field and `required:"true"` demands that
// its variable be set (when it has no default), whatever other layers say.
// As in envconfig, a field with an `envconfig:"NAME"` tag also reads the
// bare NAME when the prefixed variable is unset: PORT may feed
// SVC_SERVER_PORT. Values are parsed by envconfig: numbers, bools,
// durations, comma-separated slices, "k:v,k2:v2" maps, and types with Decode,
// Set or UnmarshalText methods.
//
// # Composing configurations
//
// A service nests the configurations of the packages it uses in one struct
// and loads it in one call. Give each nested struct a `json` name for the
// file and Consul document, and an envconfig name for the variables:
//
//	type Config struct {
//		Server server.Config `json:"server" envconfig:"SERVER"`
//		DB     DBConfig      `json:"db"     envconfig:"DB"`
//	}
//
// The nested packages' own tags apply below those names. With prefix "SVC"
// the server's port is {"server": {"http_port": 8080}} in JSON and
// SVC_SERVER_HTTP_PORT in the environment (or the bare HTTP_PORT, since
// server.Config tags its fields with envconfig names). Embedding a struct
// instead merges its fields into the parent in both JSON and environment
// names, which invites collisions between packages; nest them. The package's
// examples load server.Config this way.
//
// # Consul
//
// Consul is reached through github.com/hashicorp/consul/api. Make the client
// with api.NewClient(api.DefaultConfig()) so that the standard variables
// apply: CONSUL_HTTP_ADDR, CONSUL_HTTP_TOKEN, CONSUL_HTTP_SSL, CONSUL_CACERT
// and the rest. The key holds one JSON document.
//
// [WatchConsul] follows a key with blocking queries and hands each valid new
// configuration to a callback; a bad update is reported and the previous
// configuration stays. With [WatchLayers] every update goes through the same
// layers as Load, so the environment still wins over Consul.
//
// # Secrets
//
// Tag secret fields `secret:"true"`; everything inside a secret struct, map
// or slice field is secret too. [Redact] returns a copy with them hidden,
// and [LogValue] the same as a [log/slog.Value], for printing or logging a
// configuration.
//
// The value of a secret field never appears in an error, from any source
// (defaults, JSON file, Consul, environment): not in the message, and not
// in any error reachable from it through Unwrap. Where the value of another
// field would be quoted, a secret's is written <redacted>, and the cause
// that holds it (a *strconv.NumError, a decoder's own error) is dropped;
// strconv's value-free sentinels such as [strconv.ErrRange] stay reachable.
// The source, field and position are still given:
//
//	config: file "app.json": line 3, column 11: db.password_ttl: invalid duration <redacted>: want a number with a unit, such as "300ms" or "1m30s"
//	config: env: SVC_DB_PIN: cannot parse <redacted> as int
//
// An error whose field cannot be found is checked against every secret
// value in the document and withheld if it shows one.
// TestSecretsNeverInErrors walks the whole error chain of every kind of
// failing secret field, for every source, to hold this.
package config
