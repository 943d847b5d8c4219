package web_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/seed8104ecd5/gizmo/web"
)

type createUser struct {
	Name string `json:"name"`
	Age  int    `json:"age"`
}

func createUserHandler(w http.ResponseWriter, r *http.Request) {
	var in createUser
	if err := web.DecodeJSON(r, &in, web.MaxBytes(4<<10)); err != nil {
		web.WriteError(w, r, err)
		return
	}
	if in.Name == "" {
		web.WriteError(w, r, &web.Error{Status: http.StatusUnprocessableEntity, Detail: "name is required", Field: "name"})
		return
	}
	if err := web.WriteJSON(w, http.StatusCreated, map[string]any{"name": in.Name, "age": in.Age}); err != nil {
		web.WriteError(w, r, err)
	}
}

func Example() {
	for _, body := range []string{
		`{"name":"Ann","age":31}`,
		`{"name":"Ann","age":"31"}`,
		`{"name":"Ann","admin":true}`,
		"{\n  \"name\": \"Ann\",\n  \"age\": 31,\n}",
		`{"age":31}`,
	} {
		req := httptest.NewRequest(http.MethodPost, "/users", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		createUserHandler(rec, req)
		fmt.Print(rec.Code, " ", rec.Header().Get("Content-Type"), " ", rec.Body.String())
	}
	// Output:
	// 201 application/json {"age":31,"name":"Ann"}
	// 400 application/problem+json {"type":"about:blank","title":"Bad Request","status":400,"detail":"field \"age\" must be an integer (64-bit), got string (line 1, column 24)","field":"age"}
	// 400 application/problem+json {"type":"about:blank","title":"Bad Request","status":400,"detail":"unknown field \"admin\"","field":"admin"}
	// 400 application/problem+json {"type":"about:blank","title":"Bad Request","status":400,"detail":"malformed JSON at line 4, column 1: invalid character '}' looking for beginning of object key string"}
	// 422 application/problem+json {"type":"about:blank","title":"Unprocessable Entity","status":422,"detail":"name is required","field":"name"}
}

func ExampleClientIPResolver() {
	proxies, err := web.ParseTrustedProxies("10.0.0.0/8")
	if err != nil {
		fmt.Println(err)
		return
	}
	resolver := web.ClientIPResolver{TrustedProxies: proxies}

	// Through the load balancer at 10.0.0.5; the client forged the first entry.
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.RemoteAddr = "10.0.0.5:41000"
	r.Header.Set("X-Forwarded-For", "6.6.6.6, 203.0.113.9")
	fmt.Println(resolver.ClientIP(r))

	// Directly from the internet: the header is not believed.
	r.RemoteAddr = "198.51.100.7:52000"
	fmt.Println(resolver.ClientIP(r))
	// Output:
	// 203.0.113.9
	// 198.51.100.7
}

func ExampleQueryDateRange() {
	r := httptest.NewRequest(http.MethodGet, "/report?from=2024-03-01&to=2024-02-01&limit=x", nil)
	limit, err := web.QueryInt64Default(r, "limit", 100)
	fmt.Println(limit, err)
	_, _, err = web.QueryDateRange(r, "from", "to")
	fmt.Println(err)
	// Output:
	// 0 400 Bad Request: query parameter "limit" must be an integer, got "x": web: invalid parameter: strconv.ParseInt: parsing "x": invalid syntax
	// 400 Bad Request: query parameter "to" (2024-02-01) is before "from" (2024-03-01): web: invalid parameter
}
