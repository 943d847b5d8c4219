package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"reflect"

	"github.com/hashicorp/consul/api"
)

// A Source is one layer of configuration. [Load] applies sources in order.
//
// Load must change only the fields the source has a value for, so that a
// later layer never resets what an earlier one set. It should return an
// error that wraps [ErrNotFound] when the source's document does not exist,
// so that [Optional] can skip it. Errors should be *[Error] values naming
// the field; any other error is wrapped in one naming the source.
type Source interface {
	// Name describes the source in errors, such as `file "/etc/app.json"`.
	Name() string
	// Load applies the source to v, a non-nil pointer to a struct.
	Load(ctx context.Context, v any) error
}

// Validator is implemented by configuration types that check themselves.
// [Load] and [WatchConsul] call Validate after every source has been applied.
type Validator interface {
	// Validate reports the first problem with the loaded value, or nil.
	Validate() error
}

// Load fills v, a non-nil pointer to a struct, from sources applied in the
// order given, so later sources win. The usual order is
//
//	config.Load(ctx, &cfg,
//		config.Defaults(),
//		config.Optional(config.File("/etc/app.json")),
//		config.Consul(client, "app/config"),
//		config.Env("APP"))
//
// A source changes only the fields it mentions. If v implements [Validator],
// Validate is called last.
//
// Load is all or nothing: it works on a deep copy of *v and stores the result
// only when every source and Validate succeeded, so on error v is unchanged.
// Errors are *[Error] values naming the source and the field.
func Load(ctx context.Context, v any, sources ...Source) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &Error{Source: "load", Err: fmt.Errorf("cannot load into %T: target must be a non-nil pointer to a struct", v)}
	}
	work := reflect.New(rv.Type().Elem())
	deepCopy(work.Elem(), rv.Elem(), nil)
	if err := loadInto(ctx, work.Interface(), sources); err != nil {
		return err
	}
	rv.Elem().Set(work.Elem())
	return nil
}

// loadInto applies sources and Validate to target in place.
func loadInto(ctx context.Context, target any, sources []Source) error {
	for _, s := range sources {
		if s == nil {
			continue
		}
		if err := ctx.Err(); err != nil {
			return &Error{Source: s.Name(), Err: err}
		}
		if err := s.Load(ctx, target); err != nil {
			return sourceError(s.Name(), err)
		}
	}
	if val, ok := target.(Validator); ok {
		if err := val.Validate(); err != nil {
			return sourceError("validate", err)
		}
	}
	return nil
}

// Defaults returns the source that sets every field that has a
// `default:"..."` tag, parsed with envconfig's rules. Put it first.
func Defaults() Source { return defaultsSource{} }

type defaultsSource struct{}

func (defaultsSource) Name() string                        { return "defaults" }
func (defaultsSource) Load(_ context.Context, v any) error { return applyDefaults(v) }

// Env returns the source that applies the environment variables under prefix
// that are set, named by envconfig's rules. Unlike [LoadEnv] it does not
// apply defaults: a field whose variable is unset keeps the value of earlier
// sources. A `required:"true"` field without a default still needs its
// variable.
func Env(prefix string) Source { return envSource{prefix: prefix} }

type envSource struct{ prefix string }

func (envSource) Name() string                          { return "env" }
func (s envSource) Load(_ context.Context, v any) error { return applyEnv(s.prefix, v) }

// File returns the source that decodes the JSON file at path, as
// [LoadJSONFile] does. A missing file is an error unless wrapped in
// [Optional].
func File(path string, opts ...JSONOption) Source {
	return fileSource{path: path, opts: opts}
}

type fileSource struct {
	path string
	opts []JSONOption
}

func (s fileSource) Name() string { return fileSourceName(s.path) }
func (s fileSource) Load(_ context.Context, v any) error {
	return LoadJSONFile(s.path, v, s.opts...)
}

// Consul returns the source that decodes the JSON document stored at key in
// Consul's KV store, as [LoadConsulKV] does. A missing key is an error
// unless wrapped in [Optional].
func Consul(client *api.Client, key string, opts ...JSONOption) Source {
	return consulSource{client: client, key: key, opts: opts}
}

type consulSource struct {
	client *api.Client
	key    string
	opts   []JSONOption
}

func (s consulSource) Name() string { return consulSourceName(s.key) }
func (s consulSource) Load(ctx context.Context, v any) error {
	return LoadConsulKV(ctx, s.client, s.key, v, s.opts...)
}

// Optional returns a source that does nothing when src's document does not
// exist (its error wraps [ErrNotFound] or [io/fs.ErrNotExist]). Every other
// error, such as a syntax error or an unreachable Consul, still fails.
func Optional(src Source) Source { return optionalSource{src} }

type optionalSource struct{ Source }

func (s optionalSource) Load(ctx context.Context, v any) error {
	err := s.Source.Load(ctx, v)
	if errors.Is(err, ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// documentSource decodes a document already in memory; watches use it in
// place of the Consul source whose key they watch.
type documentSource struct {
	name string
	data []byte
	opts []JSONOption
}

func (s documentSource) Name() string { return s.name }
func (s documentSource) Load(_ context.Context, v any) error {
	return decodeJSON(s.data, v, newJSONOptions(s.name, s.opts))
}
