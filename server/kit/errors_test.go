package kit_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed8104ecd5/gizmo/server/kit"
	"github.com/seed8104ecd5/gizmo/server/kit/internal/kitpb"
	"github.com/seed8104ecd5/gizmo/web"
)

// errorCases is the error table of the package documentation, as the
// endpoint returns it and as each transport must answer.
var errorCases = []struct {
	name     string
	err      error
	status   int
	code     codes.Code
	message  string // gRPC message and (when detail is "") HTTP detail
	detail   string // HTTP detail when it differs from message; "-" for none
	mustHide string // text that must reach neither client
}{
	{"grpc NotFound", status.Error(codes.NotFound, "no item x"), 404, codes.NotFound, "no item x", "", ""},
	{"web 404", web.NewError(http.StatusNotFound, "no item y"), 404, codes.NotFound, "no item y", "", ""},
	{"grpc InvalidArgument", status.Error(codes.InvalidArgument, "bad id"), 400, codes.InvalidArgument, "bad id", "", ""},
	{"web 400", web.NewError(http.StatusBadRequest, "bad id"), 400, codes.InvalidArgument, "bad id", "", ""},
	{"grpc Unauthenticated", status.Error(codes.Unauthenticated, "who are you"), 401, codes.Unauthenticated, "who are you", "", ""},
	{"web 401", web.NewError(http.StatusUnauthorized, "log in"), 401, codes.Unauthenticated, "log in", "", ""},
	{"grpc PermissionDenied", status.Error(codes.PermissionDenied, "not yours"), 403, codes.PermissionDenied, "not yours", "", ""},
	{"web 403", web.NewError(http.StatusForbidden, "not yours"), 403, codes.PermissionDenied, "not yours", "", ""},
	{"grpc AlreadyExists", status.Error(codes.AlreadyExists, "exists"), 409, codes.AlreadyExists, "exists", "", ""},
	{"grpc Aborted", status.Error(codes.Aborted, "conflict"), 409, codes.Aborted, "conflict", "", ""},
	{"web 409", web.NewError(http.StatusConflict, "conflict"), 409, codes.AlreadyExists, "conflict", "", ""},
	{"grpc FailedPrecondition", status.Error(codes.FailedPrecondition, "not empty"), 400, codes.FailedPrecondition, "not empty", "", ""},
	{"grpc ResourceExhausted", status.Error(codes.ResourceExhausted, "slow down"), 429, codes.ResourceExhausted, "slow down", "", ""},
	{"web 429", web.NewError(http.StatusTooManyRequests, "slow down"), 429, codes.ResourceExhausted, "slow down", "", ""},
	{"grpc Unavailable", status.Error(codes.Unavailable, "try later"), 503, codes.Unavailable, "try later", "", ""},
	{"web 503", web.NewError(http.StatusServiceUnavailable, "try later"), 503, codes.Unavailable, "try later", "", ""},
	{"grpc DeadlineExceeded", status.Error(codes.DeadlineExceeded, "too slow"), 504, codes.DeadlineExceeded, "too slow", "", ""},
	{"grpc Unimplemented", status.Error(codes.Unimplemented, "not yet"), 501, codes.Unimplemented, "not yet", "", ""},
	{"context deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), 504, codes.DeadlineExceeded, "deadline exceeded", "", "query"},
	{"wrapped status keeps its own message", fmt.Errorf("lookup 10.1.2.3: %w", status.Error(codes.NotFound, "gone")), 404, codes.NotFound, "gone", "", "10.1.2.3"},
	{"grpc Internal hides its text", status.Error(codes.Internal, "dial 10.9.9.9 refused"), 500, codes.Internal, "internal error", "-", "10.9.9.9"},
	{"grpc Unknown hides its text", status.Error(codes.Unknown, "stack trace here"), 500, codes.Unknown, "internal error", "-", "stack trace"},
	{"StatusCoder", kitError(http.StatusNotFound), 404, codes.NotFound, "Not Found", "-", "secret"},
	{"plain error", errors.New("db password hunter2"), 500, codes.Internal, "internal error", "-", "hunter2"},
	{"wrapped plain error", fmt.Errorf("load: %w", errors.New("hunter2")), 500, codes.Internal, "internal error", "-", "hunter2"},
}

// TestErrorMapping returns every error of the table from the same endpoint
// and checks the answer on both transports.
func TestErrorMapping(t *testing.T) {
	svc := newItemService()
	for i, tc := range errorCases {
		svc.errs[fmt.Sprint("e", i)] = tc.err
	}
	r := start(t, svc)
	for i, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			id := fmt.Sprint("e", i)
			code, hdr, body := httpDo(t, r, http.MethodGet, "/items/"+id, "")
			if code != tc.status {
				t.Errorf("HTTP status %d, want %d (body %s)", code, tc.status, body)
			}
			if ct := hdr.Get("Content-Type"); ct != web.ProblemContentType {
				t.Errorf("HTTP Content-Type %q", ct)
			}
			var p struct {
				Status int    `json:"status"`
				Detail string `json:"detail"`
			}
			if err := json.Unmarshal([]byte(body), &p); err != nil {
				t.Fatalf("problem body %q: %v", body, err)
			}
			wantDetail := tc.message
			switch tc.detail {
			case "-":
				wantDetail = ""
			case "":
			default:
				wantDetail = tc.detail
			}
			if p.Status != tc.status || p.Detail != wantDetail {
				t.Errorf("problem status %d detail %q, want %d %q", p.Status, p.Detail, tc.status, wantDetail)
			}

			_, err := r.client.GetItem(testCtx(t), &kitpb.GetItemRequest{Id: id})
			s := status.Convert(err)
			if s.Code() != tc.code || s.Message() != tc.message {
				t.Errorf("gRPC %v %q, want %v %q", s.Code(), s.Message(), tc.code, tc.message)
			}
			if tc.mustHide != "" && (strings.Contains(body, tc.mustHide) || strings.Contains(s.Message(), tc.mustHide)) {
				t.Errorf("%q leaked: HTTP %s gRPC %q", tc.mustHide, body, s.Message())
			}
		})
	}
}

// TestStreamError checks that a streaming method's error is mapped too.
func TestStreamError(t *testing.T) {
	r := start(t, newItemService())
	st, err := r.client.ListItems(testCtx(t), &kitpb.ListItemsRequest{Prefix: "fail"})
	if err == nil {
		_, err = st.Recv()
	}
	if s := status.Convert(err); s.Code() != codes.AlreadyExists || strings.Contains(s.Message(), "secret") {
		t.Errorf("stream error = %v; want AlreadyExists without the error text", err)
	}
}

// TestFieldDetail checks that a web.Error's Field reaches gRPC clients as
// a BadRequest detail.
func TestFieldDetail(t *testing.T) {
	st := kit.GRPCStatus(&web.Error{Status: http.StatusBadRequest, Detail: "must be positive", Field: "count"})
	if st.Code() != codes.InvalidArgument || st.Message() != "must be positive" {
		t.Fatalf("status = %v", st)
	}
	var found bool
	for _, d := range st.Details() {
		if br, ok := d.(*errdetails.BadRequest); ok && len(br.GetFieldViolations()) == 1 && br.GetFieldViolations()[0].GetField() == "count" {
			found = true
		}
	}
	if !found {
		t.Errorf("no BadRequest detail naming the field: %v", st.Details())
	}
}

// TestHTTPErrorMisc covers the rules not reachable through the table.
func TestHTTPErrorMisc(t *testing.T) {
	if kit.HTTPError(nil) != nil || kit.GRPCStatus(nil).Code() != codes.OK {
		t.Error("nil error must map to nil and OK")
	}
	we := web.NewError(http.StatusTeapot, "short and stout")
	if got := kit.HTTPError(fmt.Errorf("x: %w", we)); got != we {
		t.Errorf("HTTPError did not return the wrapped *web.Error itself: %v", got)
	}
	if got := kit.HTTPError(context.Canceled); got.StatusCode() != 499 || got.Title == "" {
		t.Errorf("context.Canceled = %+v; want 499 with a title", got)
	}
	if got := kit.GRPCStatus(context.Canceled).Code(); got != codes.Canceled {
		t.Errorf("context.Canceled on gRPC = %v", got)
	}
	mbe := &http.MaxBytesError{Limit: 10}
	if got := kit.HTTPError(mbe); got.StatusCode() != http.StatusRequestEntityTooLarge || !strings.Contains(got.Detail, "10 bytes") {
		t.Errorf("MaxBytesError = %+v", got)
	}
	if got := kit.GRPCStatus(kitError(http.StatusGone)).Code(); got != codes.NotFound {
		t.Errorf("410 on gRPC = %v, want NotFound", got)
	}
	if got := kit.GRPCStatus(kitError(http.StatusTeapot)).Code(); got != codes.FailedPrecondition {
		t.Errorf("418 on gRPC = %v, want FailedPrecondition", got)
	}
	if got := kit.HTTPError(kitError(200)).StatusCode(); got != http.StatusInternalServerError {
		t.Errorf("StatusCoder with 200 as an error = %d, want 500", got)
	}
}

// FuzzErrorMapping checks, for any status, code and text, that an error
// always maps to an error status on both transports and that the text of
// an error without a status reaches neither client.
func FuzzErrorMapping(f *testing.F) {
	f.Add(404, uint32(5), "secret")
	f.Add(0, uint32(13), "dial tcp 10.0.0.1")
	f.Add(999, uint32(99), "x")
	f.Fuzz(func(t *testing.T, httpStatus int, code uint32, text string) {
		for _, err := range []error{
			web.NewError(httpStatus, text),
			status.Error(codes.Code(code), text), // nil for codes.OK
			kitError(httpStatus),
			errors.New(text),
		} {
			if err == nil {
				continue
			}
			he, st := kit.HTTPError(err), kit.GRPCStatus(err)
			if s := he.StatusCode(); s < 400 || s > 599 {
				t.Fatalf("%#v: HTTP status %d", err, s)
			}
			if st.Code() == codes.OK {
				t.Fatalf("%#v: gRPC OK for an error", err)
			}
		}
		plain := fmt.Errorf("wrapped: %w", errors.New(text))
		if he := kit.HTTPError(plain); he.Detail != "" || he.Title != "" || he.Field != "" || he.Extensions != nil {
			t.Fatalf("plain error %q has client-facing HTTP text: %+v", text, he)
		}
		if st := kit.GRPCStatus(plain); st.Message() != "internal error" || len(st.Details()) != 0 {
			t.Fatalf("plain error %q has client-facing gRPC text: %v", text, st)
		}
	})
}
