package kit

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/seed8104ecd5/gizmo/web"
)

// internalMessage is all a client learns about an error that carries no
// client-facing status.
const internalMessage = "internal error"

// statusClientClosed is the non-standard status (nginx's) for a request
// the client gave up on; it has no http.StatusText.
const statusClientClosed = 499

// outcome is what an error becomes on both transports.
type outcome struct {
	httpStatus int
	code       codes.Code
	msg        string         // the gRPC status message
	detail     string         // the HTTP problem detail; empty when there is no client-facing text
	web        *web.Error     // set when the error is a *web.Error: rendered as is on HTTP
	st         *status.Status // set when the error carries a gRPC status: sent as is on gRPC
}

// classify decides the outcome of err, which is not nil. The first rule
// that matches wins:
//
//  1. a *web.Error (errors.As): its status and Detail;
//  2. a gRPC status (an error with a GRPCStatus method, errors.As): its
//     code and message, except that the message of Unknown, Internal and
//     DataLoss is replaced by a generic one;
//  3. context.DeadlineExceeded and context.Canceled;
//  4. *http.MaxBytesError: 413 and ResourceExhausted;
//  5. go-kit's StatusCoder (a StatusCode() int method): that status, with
//     the standard status text and none of the error's own;
//  6. anything else: 500 and Internal, with a generic message.
func classify(err error) outcome {
	var we *web.Error
	if errors.As(err, &we) && we != nil {
		s := we.StatusCode()
		msg := we.Detail
		if msg == "" {
			msg = statusText(s)
		}
		return outcome{httpStatus: s, code: codeForHTTP(s), msg: msg, detail: we.Detail, web: we}
	}
	var gs interface{ GRPCStatus() *status.Status }
	if errors.As(err, &gs) {
		if st := gs.GRPCStatus(); st != nil && st.Code() != codes.OK {
			o := outcome{httpStatus: httpForCode(st.Code()), code: st.Code(), msg: st.Message(), detail: st.Message(), st: st}
			if serverFault(st.Code()) {
				// Downstream failures often carry addresses and other
				// internals in their text: keep the code, drop the text.
				o.msg, o.detail = internalMessage, ""
				o.st = status.New(st.Code(), internalMessage)
			}
			return o
		}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		const msg = "deadline exceeded"
		return outcome{httpStatus: http.StatusGatewayTimeout, code: codes.DeadlineExceeded, msg: msg, detail: msg}
	case errors.Is(err, context.Canceled):
		const msg = "request canceled"
		return outcome{httpStatus: statusClientClosed, code: codes.Canceled, msg: msg, detail: msg}
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		msg := fmt.Sprintf("request body is larger than %d bytes", mbe.Limit)
		return outcome{httpStatus: http.StatusRequestEntityTooLarge, code: codes.ResourceExhausted, msg: msg, detail: msg}
	}
	var sc interface{ StatusCode() int }
	if errors.As(err, &sc) {
		s := sc.StatusCode()
		if s < 400 || s > 599 {
			s = http.StatusInternalServerError
		}
		return outcome{httpStatus: s, code: codeForHTTP(s), msg: statusText(s)}
	}
	return outcome{httpStatus: http.StatusInternalServerError, code: codes.Internal, msg: internalMessage}
}

// HTTPError returns the problem that err is answered with on HTTP, following
// the table in the package documentation: a *web.Error is returned as it is,
// anything else becomes a *web.Error with the mapped status, client-facing
// text (none for errors that carry no status) and err as its cause. It
// returns nil for a nil error.
func HTTPError(err error) *web.Error {
	if err == nil {
		return nil
	}
	o := classify(err)
	if o.web != nil {
		return o.web
	}
	e := &web.Error{Status: o.httpStatus, Detail: o.detail, Err: err}
	if o.httpStatus == statusClientClosed {
		e.Title = statusText(statusClientClosed)
	}
	return e
}

// GRPCStatus returns the gRPC status that err is answered with, following
// the table in the package documentation. A status carried by err is kept
// with its details (its message is replaced for Unknown, Internal and
// DataLoss); a *web.Error with a Field gets a google.rpc.BadRequest detail
// naming it. It returns an OK status for a nil error.
func GRPCStatus(err error) *status.Status {
	if err == nil {
		return status.New(codes.OK, "")
	}
	o := classify(err)
	if o.st != nil {
		return o.st
	}
	st := status.New(o.code, o.msg)
	if o.web != nil && o.web.Field != "" {
		if d, derr := st.WithDetails(&errdetails.BadRequest{
			FieldViolations: []*errdetails.BadRequest_FieldViolation{{Field: o.web.Field, Description: o.msg}},
		}); derr == nil {
			st = d
		}
	}
	return st
}

// serverFault reports whether c means the server, not the caller, failed
// in a way whose text should not reach clients.
func serverFault(c codes.Code) bool {
	switch c {
	case codes.Unknown, codes.Internal, codes.DataLoss:
		return true
	}
	return false
}

// statusText is http.StatusText with a name for 499.
func statusText(s int) string {
	if s == statusClientClosed {
		return "Client Closed Request"
	}
	return http.StatusText(s)
}

// httpForCode maps a gRPC code to an HTTP status.
func httpForCode(c codes.Code) int {
	switch c {
	case codes.OK:
		return http.StatusOK
	case codes.Canceled:
		return statusClientClosed
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return http.StatusBadRequest
	case codes.DeadlineExceeded:
		return http.StatusGatewayTimeout
	case codes.NotFound:
		return http.StatusNotFound
	case codes.AlreadyExists, codes.Aborted:
		return http.StatusConflict
	case codes.PermissionDenied:
		return http.StatusForbidden
	case codes.Unauthenticated:
		return http.StatusUnauthorized
	case codes.ResourceExhausted:
		return http.StatusTooManyRequests
	case codes.Unimplemented:
		return http.StatusNotImplemented
	case codes.Unavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError // Unknown, Internal, DataLoss, and codes from the future
}

// codeForHTTP maps an HTTP error status (400-599) to a gRPC code.
func codeForHTTP(s int) codes.Code {
	switch s {
	case http.StatusBadRequest, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		return codes.InvalidArgument
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	case http.StatusNotFound, http.StatusGone:
		return codes.NotFound
	case http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return codes.Unimplemented
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return codes.DeadlineExceeded
	case http.StatusConflict:
		return codes.AlreadyExists
	case http.StatusPreconditionFailed:
		return codes.FailedPrecondition
	case http.StatusRequestedRangeNotSatisfiable:
		return codes.OutOfRange
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return codes.ResourceExhausted
	case statusClientClosed:
		return codes.Canceled
	case http.StatusBadGateway, http.StatusServiceUnavailable:
		return codes.Unavailable
	}
	if s >= 400 && s < 500 {
		return codes.FailedPrecondition
	}
	return codes.Internal
}
