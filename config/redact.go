package config

import (
	"encoding"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
)

// RedactedValue replaces the text of secret fields in [Redact] and
// [LogValue] output.
const RedactedValue = "[REDACTED]"

// Redact returns a deep copy of v in which every field tagged
// `secret:"true"` is hidden, for printing or logging a configuration. v
// itself is not modified. Redact recurses into nested structs, pointers,
// slices, arrays, maps and interfaces.
//
// A hidden string (or []byte) becomes [RedactedValue] unless it is empty, so
// that "not set" stays visible; strings inside a secret slice, map or struct
// are hidden one by one; every other kind of secret value becomes its zero
// value. Unexported fields are copied shallowly and never inspected.
func Redact(v any) any {
	if v == nil {
		return nil
	}
	src := reflect.ValueOf(v)
	dst := reflect.New(src.Type()).Elem()
	deepCopy(dst, src, nil)
	redactWalk(dst, make(map[ptrKey]bool), 0)
	return dst.Interface()
}

// LogValue returns v with its secrets hidden (see [Redact]) as a
// [log/slog.Value]. Structs become groups keyed by Go field name, so a text
// handler prints cfg.HTTP.Port=8080 cfg.DB.Password=[REDACTED]:
//
//	logger.Info("configuration loaded", "cfg", config.LogValue(cfg))
func LogValue(v any) slog.Value {
	return logValue(reflect.ValueOf(Redact(v)), 0)
}

func logValue(rv reflect.Value, depth int) slog.Value {
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return slog.AnyValue(nil)
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return slog.AnyValue(nil)
	}
	if rv.Kind() != reflect.Struct || depth > 16 || formatsItself(rv.Type()) {
		return slog.AnyValue(rv.Interface())
	}
	attrs := make([]slog.Attr, 0, rv.NumField())
	for i := range rv.NumField() {
		f := rv.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		attrs = append(attrs, slog.Attr{Key: f.Name, Value: logValue(rv.Field(i), depth+1)})
	}
	return slog.GroupValue(attrs...)
}

var (
	stringerType      = reflect.TypeFor[fmt.Stringer]()
	errorType         = reflect.TypeFor[error]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	logValuerType     = reflect.TypeFor[slog.LogValuer]()
)

// formatsItself reports whether values of t have their own text form, which
// a logger should use instead of a field-by-field group.
func formatsItself(t reflect.Type) bool {
	for _, it := range []reflect.Type{stringerType, errorType, textMarshalerType, jsonMarshalerType, logValuerType} {
		if t.Implements(it) || reflect.PointerTo(t).Implements(it) {
			return true
		}
	}
	return false
}

// redactWalk hides the secret fields found anywhere under v, which must be
// settable and must not share memory with the caller's value.
func redactWalk(v reflect.Value, seen map[ptrKey]bool, depth int) {
	if depth > 64 {
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return
		}
		k := ptrKey{v.Pointer(), v.Type()}
		if seen[k] {
			return
		}
		seen[k] = true
		redactWalk(v.Elem(), seen, depth+1)
	case reflect.Interface:
		if v.IsNil() {
			return
		}
		e := reflect.New(v.Elem().Type()).Elem()
		e.Set(v.Elem())
		redactWalk(e, seen, depth+1)
		v.Set(e)
	case reflect.Struct:
		t := v.Type()
		for i := range v.NumField() {
			f := v.Field(i)
			if !f.CanSet() {
				continue
			}
			if isTrue(t.Field(i).Tag.Get("secret")) {
				hide(f, depth+1)
			} else {
				redactWalk(f, seen, depth+1)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			redactWalk(v.Index(i), seen, depth+1)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			redactWalk(e, seen, depth+1)
			v.SetMapIndex(k, e)
		}
	}
}

// hide replaces a secret value (see Redact for the rules).
func hide(v reflect.Value, depth int) {
	if depth > 64 {
		v.SetZero()
		return
	}
	switch v.Kind() {
	case reflect.String:
		if v.Len() > 0 {
			v.SetString(RedactedValue)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			hide(v.Elem(), depth+1)
		}
	case reflect.Interface:
		if !v.IsNil() {
			e := reflect.New(v.Elem().Type()).Elem()
			e.Set(v.Elem())
			hide(e, depth+1)
			v.Set(e)
		}
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if v.Len() > 0 {
				s := reflect.MakeSlice(v.Type(), len(RedactedValue), len(RedactedValue))
				for i := range len(RedactedValue) {
					s.Index(i).SetUint(uint64(RedactedValue[i]))
				}
				v.Set(s)
			}
			return
		}
		for i := range v.Len() {
			hide(v.Index(i), depth+1)
		}
	case reflect.Array:
		for i := range v.Len() {
			hide(v.Index(i), depth+1)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			hide(e, depth+1)
			v.SetMapIndex(k, e)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if !v.Field(i).CanSet() {
				v.SetZero() // cannot hide what it holds: drop all of it
				return
			}
		}
		for i := range v.NumField() {
			hide(v.Field(i), depth+1)
		}
	default:
		v.SetZero()
	}
}
