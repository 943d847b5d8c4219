package kit

import (
	"context"
	"log/slog"
	"net/http"

	httptransport "github.com/go-kit/kit/transport/http"

	"github.com/seed8104ecd5/gizmo/server"
	"github.com/seed8104ecd5/gizmo/web"
)

// EncodeJSON is the default response encoder of an [HTTPEndpoint]: it
// writes response as JSON with status 200. A response that implements
// go-kit's StatusCoder chooses the status (204 and 304 write no body), and
// one that implements go-kit's Headerer adds headers. The response is
// encoded before anything is written, so an encoding failure becomes a 500
// problem answer through the error encoder.
func EncodeJSON(_ context.Context, w http.ResponseWriter, response any) error {
	addHeaders(w, response)
	code := http.StatusOK
	if sc, ok := response.(httptransport.StatusCoder); ok {
		code = sc.StatusCode()
	}
	if code == http.StatusNoContent || code == http.StatusNotModified {
		w.WriteHeader(code)
		return nil
	}
	return web.WriteJSON(w, code, response)
}

// DecodeJSON returns a request decoder that reads the body as one JSON value
// of type T with web.DecodeJSON (bounded size, unknown fields rejected
// unless opts say otherwise) and passes the T value to the endpoint. Bad
// bodies are *web.Error values: 400, 413 or 415 on HTTP.
func DecodeJSON[T any](opts ...web.DecodeOption) httptransport.DecodeRequestFunc {
	return func(_ context.Context, r *http.Request) (any, error) {
		var v T
		if err := web.DecodeJSON(r, &v, opts...); err != nil {
			return nil, err
		}
		return v, nil
	}
}

// EncodeError is the default go-kit error encoder of an [HTTPEndpoint]: it
// writes [HTTPError](err) as an application/problem+json answer with
// web.WriteError, after any headers the error provides through go-kit's
// Headerer (Retry-After, WWW-Authenticate, ...). Errors that carry no
// client-facing status get a bare 500 that reveals nothing of their text.
func EncodeError(_ context.Context, err error, w http.ResponseWriter) {
	addHeaders(w, err)
	web.WriteError(w, nil, HTTPError(err))
}

// addHeaders adds the headers of v if it implements go-kit's Headerer.
func addHeaders(w http.ResponseWriter, v any) {
	if h, ok := v.(httptransport.Headerer); ok {
		dst := w.Header()
		for k, vals := range h.Headers() {
			for _, val := range vals {
				dst.Add(k, val)
			}
		}
	}
}

// errorEncoder returns the error encoder installed on one endpoint: it logs
// server faults (5xx), with the full error text that the client never sees,
// then calls EncodeError.
func errorEncoder(logger *slog.Logger, method, path string) httptransport.ErrorEncoder {
	return func(ctx context.Context, err error, w http.ResponseWriter) {
		e := HTTPError(err)
		if e.StatusCode() >= 500 {
			logger.LogAttrs(ctx, slog.LevelError, "kit: endpoint error",
				slog.String("transport", "http"),
				slog.String("method", method),
				slog.String("route", path),
				slog.String("request_id", server.RequestID(ctx)),
				slog.String("error", err.Error()),
			)
		}
		addHeaders(w, err)
		web.WriteError(w, nil, e)
	}
}
