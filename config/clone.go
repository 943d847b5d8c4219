package config

import "reflect"

// ptrKey identifies a pointer by address and type (a struct and its first
// field share an address).
type ptrKey struct {
	p uintptr
	t reflect.Type
}

// deepCopy stores a copy of src in dst, which must be settable and of the
// same type, sharing no maps, slices or pointers with src, so that decoding
// into the copy never writes through to src. Pointer cycles and sharing are
// preserved. Unexported struct fields, channels and functions are copied
// shallowly.
func deepCopy(dst, src reflect.Value, seen map[ptrKey]reflect.Value) {
	if seen == nil {
		seen = make(map[ptrKey]reflect.Value)
	}
	switch src.Kind() {
	case reflect.Pointer:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		k := ptrKey{src.Pointer(), src.Type()}
		if c, ok := seen[k]; ok {
			dst.Set(c)
			return
		}
		p := reflect.New(src.Type().Elem())
		seen[k] = p
		deepCopy(p.Elem(), src.Elem(), seen)
		dst.Set(p)
	case reflect.Interface:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		c := reflect.New(src.Elem().Type()).Elem()
		deepCopy(c, src.Elem(), seen)
		dst.Set(c)
	case reflect.Struct:
		dst.Set(src)
		for i := range src.NumField() {
			if f := dst.Field(i); f.CanSet() {
				deepCopy(f, src.Field(i), seen)
			}
		}
	case reflect.Slice:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		s := reflect.MakeSlice(src.Type(), src.Len(), src.Len())
		for i := range src.Len() {
			deepCopy(s.Index(i), src.Index(i), seen)
		}
		dst.Set(s)
	case reflect.Array:
		for i := range src.Len() {
			deepCopy(dst.Index(i), src.Index(i), seen)
		}
	case reflect.Map:
		if src.IsNil() {
			dst.Set(src)
			return
		}
		m := reflect.MakeMapWithSize(src.Type(), src.Len())
		for it := src.MapRange(); it.Next(); {
			e := reflect.New(src.Type().Elem()).Elem()
			deepCopy(e, it.Value(), seen)
			m.SetMapIndex(it.Key(), e)
		}
		dst.Set(m)
	default:
		dst.Set(src)
	}
}
