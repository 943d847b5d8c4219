package config

import (
	"encoding"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"github.com/kelseyhightower/envconfig"
)

// LoadEnv fills v, a non-nil pointer to a struct, from environment variables
// named by envconfig's rules (see the package documentation) under prefix.
// Like envconfig.Process it first applies `default:"..."` tags to fields
// whose variable is unset, and a `required:"true"` field without a default
// must have its variable set.
//
// Errors name the variable: `config: env: APP_PORT: cannot parse "abc" as
// int`. Inside [Load], use [Defaults] and [Env] instead: [Env] applies only
// the variables that are set.
func LoadEnv(prefix string, v any) error {
	if err := applyDefaults(v); err != nil {
		return err
	}
	return applyEnv(prefix, v)
}

// envVar is one leaf field of a struct as envconfig sees it.
type envVar struct {
	index  []int        // field indexes from the root struct
	goPath string       // Go field path, e.g. "HTTP.Port"
	key    string       // variable name with the prefix
	alt    string       // unprefixed name from the envconfig tag, if any
	typ    reflect.Type // the field's type with pointers removed
	tag    reflect.StructTag
	secret bool // the field, or a struct it is inside, is tagged secret
}

// The regular expressions envconfig uses for split_words.
var (
	wordsRe   = regexp.MustCompile("([^A-Z]+|[A-Z]+[^A-Z]+|[A-Z]+)")
	acronymRe = regexp.MustCompile("([A-Z]+)([A-Z][^A-Z]+)")
)

var (
	envDecoderType      = reflect.TypeFor[envconfig.Decoder]()
	envSetterType       = reflect.TypeFor[envconfig.Setter]()
	binaryUnmarshalType = reflect.TypeFor[encoding.BinaryUnmarshaler]()
)

// envVars lists the leaf fields of struct type t with the names envconfig
// would give them. It walks types, not values, so that nil pointers to
// structs stay nil unless a value is actually set below them.
func envVars(prefix string, t reflect.Type) []envVar {
	var out []envVar
	var walk func(prefix, goPrefix string, t reflect.Type, index []int, depth int, secret bool)
	walk = func(prefix, goPrefix string, t reflect.Type, index []int, depth int, secret bool) {
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || isTrue(f.Tag.Get("ignored")) {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			key := f.Name
			if isTrue(f.Tag.Get("split_words")) {
				key = splitWords(f.Name)
			}
			alt := strings.ToUpper(f.Tag.Get("envconfig"))
			if alt != "" {
				key = alt
			}
			if prefix != "" {
				key = prefix + "_" + key
			}
			key = strings.ToUpper(key)
			idx := append(append([]int(nil), index...), i)
			goPath := joinPath(goPrefix, f.Name)
			fieldSecret := secret || isTrue(f.Tag.Get("secret"))
			if ft.Kind() == reflect.Struct && !parsesItself(ft) && depth < 32 {
				inner := key
				if f.Anonymous {
					inner = prefix
				}
				walk(inner, goPath, ft, idx, depth+1, fieldSecret)
				continue
			}
			out = append(out, envVar{index: idx, goPath: goPath, key: key, alt: alt, typ: ft, tag: f.Tag, secret: fieldSecret})
		}
	}
	walk(prefix, "", t, nil, 0, false)
	return out
}

// parsesItself reports whether envconfig treats struct type t as one value.
func parsesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	for _, it := range []reflect.Type{envDecoderType, envSetterType, textUnmarshalerType, binaryUnmarshalType} {
		if t.Implements(it) || p.Implements(it) {
			return true
		}
	}
	return false
}

// splitWords turns "HTTPPort" into "HTTP_Port" the way envconfig does.
func splitWords(name string) string {
	words := wordsRe.FindAllStringSubmatch(name, -1)
	if len(words) == 0 {
		return name
	}
	var parts []string
	for _, w := range words {
		if m := acronymRe.FindStringSubmatch(w[0]); len(m) == 3 {
			parts = append(parts, m[1], m[2])
		} else {
			parts = append(parts, w[0])
		}
	}
	return strings.Join(parts, "_")
}

func isTrue(s string) bool {
	b, _ := strconv.ParseBool(s)
	return b
}

// structTarget checks that v is a non-nil pointer to a struct.
func structTarget(source string, v any) (reflect.Value, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return reflect.Value{}, &Error{Source: source, Err: fmt.Errorf("cannot load into %T: target must be a non-nil pointer to a struct", v)}
	}
	return rv.Elem(), nil
}

// applyEnv sets the fields whose variable is set and leaves the others
// alone; it reports unset `required:"true"` variables that have no default.
func applyEnv(prefix string, v any) error {
	root, err := structTarget("env", v)
	if err != nil {
		return err
	}
	for _, ev := range envVars(prefix, root.Type()) {
		name := ev.key
		_, ok := os.LookupEnv(name)
		if !ok && ev.alt != "" {
			name = ev.alt
			_, ok = os.LookupEnv(name)
		}
		if !ok {
			if isTrue(ev.tag.Get("required")) && ev.tag.Get("default") == "" {
				return &Error{Source: "env", Field: ev.key, Err: errors.New("required variable is not set")}
			}
			continue
		}
		val, err := parseWithEnvconfig(ev, name, "")
		if err != nil {
			return &Error{Source: "env", Field: name, Err: err}
		}
		setField(root, ev.index, val)
	}
	return nil
}

// applyDefaults sets every field that has a `default:"..."` tag.
func applyDefaults(v any) error {
	root, err := structTarget("defaults", v)
	if err != nil {
		return err
	}
	for _, ev := range envVars("", root.Type()) {
		def := ev.tag.Get("default")
		if def == "" {
			continue
		}
		val, err := parseWithEnvconfig(ev, unsetVarName, def)
		if err != nil {
			return &Error{Source: "defaults", Field: ev.goPath, Err: err}
		}
		setField(root, ev.index, val)
	}
	return nil
}

// unsetVarName is a variable name that cannot exist: names in a process
// environment never contain '='. Giving it to envconfig makes it fall back
// to the default tag.
const unsetVarName = "GIZMO_CONFIG=UNSET"

// parseWithEnvconfig converts one value with envconfig's own rules (numbers
// in any base, durations, comma-separated slices, k:v maps, Decoder, Setter,
// TextUnmarshaler...). envconfig has no API for a single value, so it is
// handed a one-field struct that reads variable name, or, when def is not
// empty, the unset variable with def as its default.
func parseWithEnvconfig(ev envVar, name, def string) (reflect.Value, error) {
	tag := `envconfig:` + strconv.Quote(name)
	if def != "" {
		tag += ` default:` + strconv.Quote(def)
	}
	st := reflect.StructOf([]reflect.StructField{{Name: "V", Type: ev.typ, Tag: reflect.StructTag(tag)}})
	holder := reflect.New(st)
	err := envconfig.Process("", holder.Interface())
	if err == nil {
		return holder.Elem().Field(0), nil
	}
	secret := ev.secret
	var pe *envconfig.ParseError
	if !errors.As(err, &pe) {
		if secret {
			return reflect.Value{}, fmt.Errorf("cannot parse %s as %s", redactedInError, ev.typ)
		}
		return reflect.Value{}, err
	}
	value := strconv.Quote(pe.Value)
	if secret {
		value = redactedInError
	}
	msg := fmt.Sprintf("cannot parse %s as %s", value, ev.typ)
	var ne *strconv.NumError
	switch {
	case errors.As(pe.Err, &ne) && errors.Is(ne.Err, strconv.ErrSyntax):
		// "cannot parse ... as int" says it all.
	case ne != nil:
		msg += ": " + ne.Err.Error()
	case pe.Err != nil && !secret:
		msg += ": " + pe.Err.Error()
	}
	// The cause stays reachable for errors.Is and errors.As, except that
	// of a secret field, which may hold the value (strconv.NumError does):
	// it keeps only strconv's value-free sentinel, if any.
	cause := pe.Err
	if secret {
		cause = nil
		if ne != nil {
			cause = ne.Err
		}
	}
	return reflect.Value{}, &causeError{msg: msg, err: cause}
}

// setField stores val at the field reached by index, allocating nil
// pointers on the way (including the field's own pointers).
func setField(root reflect.Value, index []int, val reflect.Value) {
	v := root
	for _, i := range index {
		v = deref(v).Field(i)
	}
	deref(v).Set(val)
}

// deref follows pointers, allocating nil ones.
func deref(v reflect.Value) reflect.Value {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	return v
}
