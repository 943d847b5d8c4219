package web

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/mux"
)

// DateLayout is the layout of dates in route variables and query parameters:
// ISO 8601 calendar dates such as 2024-02-29.
const DateLayout = "2006-01-02"

// ErrMissingParam is wrapped by the error the getters return when a required
// route variable or query parameter is absent or empty.
var ErrMissingParam = errors.New("web: missing parameter")

// ErrInvalidParam is wrapped by the error the getters return when a route
// variable or query parameter is present but cannot be parsed.
var ErrInvalidParam = errors.New("web: invalid parameter")

// RouteVar returns the route variable name: from gorilla/mux's [mux.Vars]
// when the request was routed by mux, otherwise from [http.Request.PathValue].
// It returns "" when there is no such variable.
//
// Under package server's default middleware it asks the request's context
// instead (see routeVarer), which gives the same answer without building
// the map mux.Vars returns.
func RouteVar(r *http.Request, name string) string {
	if rv, ok := r.Context().(routeVarer); ok {
		if v, ok := rv.RouteVar(name); ok {
			return v
		}
		return r.PathValue(name)
	}
	if v, ok := mux.Vars(r)[name]; ok {
		return v
	}
	return r.PathValue(name)
}

// routeVarer is implemented by a request context that knows the variables
// of the route the request matched: package server's, whose RouteVar
// answers as mux.Vars(r)[name] would. A context wrapped since (a handler's
// context.WithValue, mux.SetURLVars) does not implement it, and RouteVar
// then reads mux.Vars.
type routeVarer interface {
	RouteVar(name string) (string, bool)
}

// VarString returns the non-empty route variable name.
func VarString(r *http.Request, name string) (string, error) {
	return getVar(r, name, parseString)
}

// VarInt64 returns the route variable name as a base-10 int64.
func VarInt64(r *http.Request, name string) (int64, error) {
	return getVar(r, name, parseInt64)
}

// VarUint64 returns the route variable name as a base-10 uint64.
func VarUint64(r *http.Request, name string) (uint64, error) {
	return getVar(r, name, parseUint64)
}

// VarBool returns the route variable name as a boolean; see [ParseBool] for
// the accepted words.
func VarBool(r *http.Request, name string) (bool, error) {
	return getVar(r, name, parseBoolParam)
}

// VarDate returns the route variable name, a date in [DateLayout], as
// midnight UTC of that day.
func VarDate(r *http.Request, name string) (time.Time, error) {
	return getVar(r, name, parseDate)
}

// QueryString returns the required query parameter name.
func QueryString(r *http.Request, name string) (string, error) {
	return getQuery(r, name, parseString)
}

// QueryInt64 returns the required query parameter name as a base-10 int64.
func QueryInt64(r *http.Request, name string) (int64, error) {
	return getQuery(r, name, parseInt64)
}

// QueryInt64Default returns the query parameter name as a base-10 int64, or
// def when it is absent or empty.
func QueryInt64Default(r *http.Request, name string, def int64) (int64, error) {
	return getQueryDefault(r, name, def, parseInt64)
}

// QueryUint64 returns the required query parameter name as a base-10 uint64.
func QueryUint64(r *http.Request, name string) (uint64, error) {
	return getQuery(r, name, parseUint64)
}

// QueryUint64Default returns the query parameter name as a base-10 uint64, or
// def when it is absent or empty.
func QueryUint64Default(r *http.Request, name string, def uint64) (uint64, error) {
	return getQueryDefault(r, name, def, parseUint64)
}

// QueryBool returns the required query parameter name as a boolean; see
// [ParseBool] for the accepted words.
func QueryBool(r *http.Request, name string) (bool, error) {
	return getQuery(r, name, parseBoolParam)
}

// QueryBoolDefault returns the query parameter name as a boolean, or def when
// it is absent or empty.
func QueryBoolDefault(r *http.Request, name string, def bool) (bool, error) {
	return getQueryDefault(r, name, def, parseBoolParam)
}

// QueryDate returns the required query parameter name, a date in
// [DateLayout], as midnight UTC of that day.
func QueryDate(r *http.Request, name string) (time.Time, error) {
	return getQuery(r, name, parseDate)
}

// QueryDateDefault returns the query parameter name as a date, or def when it
// is absent or empty.
func QueryDateDefault(r *http.Request, name string, def time.Time) (time.Time, error) {
	return getQueryDefault(r, name, def, parseDate)
}

// QueryDateRange returns the dates in the required query parameters fromName
// and toName, such as ?from=2024-01-01&to=2024-01-31. Both ends are inclusive
// days; end may equal start. An end before start gives 400 naming toName.
func QueryDateRange(r *http.Request, fromName, toName string) (start, end time.Time, err error) {
	if start, err = QueryDate(r, fromName); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if end, err = QueryDate(r, toName); err != nil {
		return time.Time{}, time.Time{}, err
	}
	if end.Before(start) {
		return time.Time{}, time.Time{}, &Error{
			Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("query parameter %q (%s) is before %q (%s)",
				toName, end.Format(DateLayout), fromName, start.Format(DateLayout)),
			Field: toName,
			Err:   ErrInvalidParam,
		}
	}
	return start, end, nil
}

// ParseBool parses a boolean word, ignoring case: true, 1, yes, y, on and t
// are true; false, 0, no, n, off and f are false. ok is false for any other s.
func ParseBool(s string) (value, ok bool) {
	if len(s) > 5 {
		return false, false
	}
	switch strings.ToLower(s) {
	case "true", "1", "yes", "y", "on", "t":
		return true, true
	case "false", "0", "no", "n", "off", "f":
		return false, true
	}
	return false, false
}

// parser parses a parameter value. want describes valid values for the error
// detail, e.g. "an integer"; the error, if any, is kept as the cause.
type parser[T any] func(s string) (v T, want string, err error)

func parseString(s string) (string, string, error) { return s, "", nil }

func parseInt64(s string) (int64, string, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, "an integer between -9223372036854775808 and 9223372036854775807", err
	}
	return n, "an integer", err
}

func parseUint64(s string) (uint64, string, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if errors.Is(err, strconv.ErrRange) {
		return 0, "an integer between 0 and 18446744073709551615", err
	}
	return n, "a non-negative integer", err
}

func parseBoolParam(s string) (bool, string, error) {
	b, ok := ParseBool(s)
	if !ok {
		return false, "a boolean (true/false, 1/0, yes/no, y/n, on/off, t/f)", errors.New("not a boolean word")
	}
	return b, "", nil
}

func parseDate(s string) (time.Time, string, error) {
	const want = "a date as YYYY-MM-DD"
	if len(s) != len(DateLayout) {
		return time.Time{}, want, errors.New("wrong length for a date")
	}
	t, err := time.Parse(DateLayout, s)
	if err != nil {
		return time.Time{}, want, err
	}
	return t, "", nil
}

func getVar[T any](r *http.Request, name string, parse parser[T]) (T, error) {
	var zero T
	s := RouteVar(r, name)
	if s == "" {
		return zero, &Error{
			Status: http.StatusInternalServerError,
			Err:    fmt.Errorf("%w: route variable %q is not defined or empty", ErrMissingParam, name),
		}
	}
	return parseParam(s, "route variable", name, parse)
}

func getQuery[T any](r *http.Request, name string, parse parser[T]) (T, error) {
	var zero T
	s, err := queryValue(r, name)
	if err != nil {
		return zero, err
	}
	if s == "" {
		return zero, &Error{
			Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("query parameter %q is required", name),
			Field:  name,
			Err:    ErrMissingParam,
		}
	}
	return parseParam(s, "query parameter", name, parse)
}

func getQueryDefault[T any](r *http.Request, name string, def T, parse parser[T]) (T, error) {
	s, err := queryValue(r, name)
	if err != nil {
		return def, err
	}
	if s == "" {
		return def, nil
	}
	return parseParam(s, "query parameter", name, parse)
}

func parseParam[T any](s, kind, name string, parse parser[T]) (T, error) {
	v, want, err := parse(s)
	if err != nil {
		var zero T
		return zero, &Error{
			Status: http.StatusBadRequest,
			Detail: fmt.Sprintf("%s %q must be %s, got %s", kind, name, want, quoteClip(s)),
			Field:  name,
			Err:    fmt.Errorf("%w: %w", ErrInvalidParam, err),
		}
	}
	return v, nil
}

// queryValue returns the first value of the query parameter name. A query
// string that is malformed where it matters (the parameter is not found and
// some pair could not be decoded) gives 400 rather than a silent "missing".
func queryValue(r *http.Request, name string) (string, error) {
	if r.URL == nil {
		return "", nil
	}
	q, err := url.ParseQuery(r.URL.RawQuery)
	if vs := q[name]; len(vs) > 0 {
		return vs[0], nil
	}
	if err != nil {
		return "", &Error{
			Status: http.StatusBadRequest,
			Detail: "malformed query string: " + err.Error(),
			Field:  name,
			Err:    fmt.Errorf("%w: %w", ErrInvalidParam, err),
		}
	}
	return "", nil
}
