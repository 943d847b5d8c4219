package web

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/mux"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// checkParamErr asserts err is a *Error with status, Field and a detail
// containing detail, wrapping sentinel.
func checkParamErr(t *testing.T, err error, status int, field, detail string, sentinel error) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok {
		t.Fatalf("err = %T %v, want *Error", err, err)
	}
	if e.Status != status || e.Field != field || !strings.Contains(e.Detail, detail) || !errors.Is(err, sentinel) {
		t.Errorf("got status %d field %q detail %q (Is %v: %v)\nwant status %d field %q detail containing %q",
			e.Status, e.Field, e.Detail, sentinel, errors.Is(err, sentinel), status, field, detail)
	}
}

func TestParseBool(t *testing.T) {
	for _, s := range []string{"true", "TRUE", "True", "1", "yes", "YES", "y", "Y", "on", "On", "t", "T"} {
		if v, ok := ParseBool(s); !v || !ok {
			t.Errorf("ParseBool(%q) = %v, %v; want true, true", s, v, ok)
		}
	}
	for _, s := range []string{"false", "FALSE", "0", "no", "No", "n", "N", "off", "OFF", "f", "F"} {
		if v, ok := ParseBool(s); v || !ok {
			t.Errorf("ParseBool(%q) = %v, %v; want false, true", s, v, ok)
		}
	}
	for _, s := range []string{"", " true", "true ", "2", "-1", "yess", "nope", "o", "tru", "offf", "enabled", "\u0130"} {
		if v, ok := ParseBool(s); v || ok {
			t.Errorf("ParseBool(%q) = %v, %v; want false, false", s, v, ok)
		}
	}
}

func TestQueryGetters(t *testing.T) {
	r := httptest.NewRequest("GET",
		"/?n=-42&u=18446744073709551615&b=Off&d=2024-02-29&s=a+b%2Fc&empty=&n=7&big=9223372036854775808", nil)

	if v, err := QueryInt64(r, "n"); err != nil || v != -42 { // first of repeated values
		t.Errorf("QueryInt64(n) = %d, %v", v, err)
	}
	if v, err := QueryUint64(r, "u"); err != nil || v != 18446744073709551615 {
		t.Errorf("QueryUint64(u) = %d, %v", v, err)
	}
	if v, err := QueryBool(r, "b"); err != nil || v {
		t.Errorf("QueryBool(b) = %v, %v", v, err)
	}
	if v, err := QueryDate(r, "d"); err != nil || !v.Equal(date(2024, 2, 29)) || v.Location() != time.UTC {
		t.Errorf("QueryDate(d) = %v, %v", v, err)
	}
	if v, err := QueryString(r, "s"); err != nil || v != "a b/c" {
		t.Errorf("QueryString(s) = %q, %v", v, err)
	}

	// Defaults apply to absent and empty parameters only.
	if v, err := QueryInt64Default(r, "absent", 5); err != nil || v != 5 {
		t.Errorf("QueryInt64Default(absent) = %d, %v", v, err)
	}
	if v, err := QueryUint64Default(r, "empty", 6); err != nil || v != 6 {
		t.Errorf("QueryUint64Default(empty) = %d, %v", v, err)
	}
	if v, err := QueryBoolDefault(r, "absent", true); err != nil || !v {
		t.Errorf("QueryBoolDefault(absent) = %v, %v", v, err)
	}
	if v, err := QueryDateDefault(r, "absent", date(2000, 1, 1)); err != nil || !v.Equal(date(2000, 1, 1)) {
		t.Errorf("QueryDateDefault(absent) = %v, %v", v, err)
	}
	if v, err := QueryInt64Default(r, "n", 5); err != nil || v != -42 {
		t.Errorf("QueryInt64Default(n) = %d, %v", v, err)
	}

	// Missing required parameters.
	for _, name := range []string{"absent", "empty"} {
		_, err := QueryInt64(r, name)
		checkParamErr(t, err, 400, name, `query parameter "`+name+`" is required`, ErrMissingParam)
	}
	_, err := QueryBool(r, "absent")
	checkParamErr(t, err, 400, "absent", "is required", ErrMissingParam)

	// Bad values, also through the Default variants.
	_, err = QueryInt64(r, "s")
	checkParamErr(t, err, 400, "s", `query parameter "s" must be an integer, got "a b/c"`, ErrInvalidParam)
	_, err = QueryInt64(r, "big")
	checkParamErr(t, err, 400, "big", `must be an integer between -9223372036854775808 and 9223372036854775807, got "9223372036854775808"`, ErrInvalidParam)
	_, err = QueryUint64Default(r, "n", 1)
	checkParamErr(t, err, 400, "n", `must be a non-negative integer, got "-42"`, ErrInvalidParam)
	_, err = QueryBoolDefault(r, "d", true)
	checkParamErr(t, err, 400, "d", `query parameter "d" must be a boolean (true/false, 1/0, yes/no, y/n, on/off, t/f), got "2024-02-29"`, ErrInvalidParam)
	_, err = QueryDateDefault(r, "b", time.Time{})
	checkParamErr(t, err, 400, "b", `query parameter "b" must be a date as YYYY-MM-DD, got "Off"`, ErrInvalidParam)
}

func TestQueryEchoIsClipped(t *testing.T) {
	r := httptest.NewRequest("GET", "/?n="+strings.Repeat("9", 500), nil)
	_, err := QueryInt64(r, "n")
	checkParamErr(t, err, 400, "n", `got "`+strings.Repeat("9", 64)+`..."`, ErrInvalidParam)
}

func TestQueryMalformed(t *testing.T) {
	r := httptest.NewRequest("GET", "/?ok=1&n=%zz", nil)
	_, err := QueryInt64(r, "n")
	checkParamErr(t, err, 400, "n", "malformed query string", ErrInvalidParam)
	_, err = QueryInt64Default(r, "n", 3)
	checkParamErr(t, err, 400, "n", "malformed query string", ErrInvalidParam)
	// Parameters that decoded are still usable.
	if v, err := QueryInt64(r, "ok"); err != nil || v != 1 {
		t.Errorf("QueryInt64(ok) = %d, %v", v, err)
	}
}

func TestParseDate(t *testing.T) {
	good := map[string]time.Time{
		"2024-02-29": date(2024, 2, 29), "1999-12-31": date(1999, 12, 31), "0001-01-01": date(1, 1, 1),
	}
	for s, want := range good {
		if got, _, err := parseDate(s); err != nil || !got.Equal(want) {
			t.Errorf("parseDate(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"2023-02-29", "2024-13-01", "2024-1-01", "2024-01-1", "24-01-01", "2024/01/01",
		"2024-01-01T00:00:00Z", " 2024-01-01", "2024-00-10", "2024-04-31", "+024-01-01", ""} {
		if _, _, err := parseDate(s); err == nil {
			t.Errorf("parseDate(%q) succeeded", s)
		}
	}
}

func TestQueryDateRange(t *testing.T) {
	tests := []struct {
		query      string
		start, end time.Time
		status     int
		field      string
		detail     string
		sentinel   error
	}{
		{query: "from=2024-01-01&to=2024-01-31", start: date(2024, 1, 1), end: date(2024, 1, 31)},
		{query: "from=2024-01-01&to=2024-01-01", start: date(2024, 1, 1), end: date(2024, 1, 1)},
		{query: "from=2024-02-01&to=2024-01-31", status: 400, field: "to", sentinel: ErrInvalidParam,
			detail: `query parameter "to" (2024-01-31) is before "from" (2024-02-01)`},
		{query: "to=2024-01-31", status: 400, field: "from", sentinel: ErrMissingParam, detail: `"from" is required`},
		{query: "from=2024-01-01", status: 400, field: "to", sentinel: ErrMissingParam, detail: `"to" is required`},
		{query: "from=2024-01-01&to=tomorrow", status: 400, field: "to", sentinel: ErrInvalidParam, detail: `got "tomorrow"`},
	}
	for _, tt := range tests {
		start, end, err := QueryDateRange(httptest.NewRequest("GET", "/?"+tt.query, nil), "from", "to")
		if tt.status == 0 {
			if err != nil || !start.Equal(tt.start) || !end.Equal(tt.end) {
				t.Errorf("%s: got %v, %v, %v", tt.query, start, end, err)
			}
			continue
		}
		checkParamErr(t, err, tt.status, tt.field, tt.detail, tt.sentinel)
		if !start.IsZero() || !end.IsZero() {
			t.Errorf("%s: non-zero dates on error", tt.query)
		}
	}
}

// serve routes target through h on both a gorilla/mux router and a
// net/http ServeMux with the same pattern.
func serve(t *testing.T, pattern, target string, h http.HandlerFunc) {
	t.Helper()
	for _, router := range []struct {
		name string
		h    http.Handler
	}{
		{"mux", func() http.Handler { m := mux.NewRouter(); m.HandleFunc(pattern, h); return m }()},
		{"ServeMux", func() http.Handler { m := http.NewServeMux(); m.HandleFunc(pattern, h); return m }()},
	} {
		rec := httptest.NewRecorder()
		router.h.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if rec.Code != http.StatusNoContent {
			t.Errorf("%s: %s was not routed to the handler (status %d)", router.name, target, rec.Code)
		}
	}
}

func TestVarGetters(t *testing.T) {
	serve(t, "/u/{id}/{uid}/{flag}/{day}/{name}", "/u/-9/42/yes/2024-03-01/x%20y", func(w http.ResponseWriter, r *http.Request) {
		if v, err := VarInt64(r, "id"); err != nil || v != -9 {
			t.Errorf("VarInt64 = %d, %v", v, err)
		}
		if v, err := VarUint64(r, "uid"); err != nil || v != 42 {
			t.Errorf("VarUint64 = %d, %v", v, err)
		}
		if v, err := VarBool(r, "flag"); err != nil || !v {
			t.Errorf("VarBool = %v, %v", v, err)
		}
		if v, err := VarDate(r, "day"); err != nil || !v.Equal(date(2024, 3, 1)) {
			t.Errorf("VarDate = %v, %v", v, err)
		}
		if v, err := VarString(r, "name"); err != nil || v != "x y" {
			t.Errorf("VarString = %q, %v", v, err)
		}
		_, err := VarUint64(r, "id")
		checkParamErr(t, err, 400, "id", `route variable "id" must be a non-negative integer, got "-9"`, ErrInvalidParam)
		_, err = VarDate(r, "flag")
		checkParamErr(t, err, 400, "flag", `route variable "flag" must be a date as YYYY-MM-DD, got "yes"`, ErrInvalidParam)
		_, err = VarBool(r, "day")
		checkParamErr(t, err, 400, "day", `must be a boolean`, ErrInvalidParam)

		// A variable the route does not define is a server bug: 500, nothing for the client.
		_, err = VarInt64(r, "nope")
		checkParamErr(t, err, 500, "", "", ErrMissingParam)
		if !strings.Contains(err.Error(), `route variable "nope"`) {
			t.Errorf("log text %q does not name the variable", err.Error())
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func TestRouteVarOutsideRouter(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	if got := RouteVar(r, "id"); got != "" {
		t.Errorf("RouteVar = %q", got)
	}
	r.SetPathValue("id", "12")
	if v, err := VarInt64(r, "id"); err != nil || v != 12 {
		t.Errorf("VarInt64 after SetPathValue = %d, %v", v, err)
	}
	r = mux.SetURLVars(r, map[string]string{"id": "13"}) // mux wins when it routed the request
	if v, err := VarInt64(r, "id"); err != nil || v != 13 {
		t.Errorf("VarInt64 with mux vars = %d, %v", v, err)
	}
}
