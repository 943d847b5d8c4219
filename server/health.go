package server

import (
	"log/slog"
	"net/http"

	"github.com/seed8104ecd5/gizmo/web"
)

// healthz is the liveness endpoint: 200 {"status":"ok"} while the process
// is up and every liveness check passes (see AddLivenessCheck and
// AddWorker), 503 {"status":"unhealthy"} with the failed checks otherwise.
// Shutdown does not make it fail: liveness says whether to restart.
func healthz(lv *Readiness, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		results := lv.run(r.Context())
		body := readinessBody{Status: "ok"}
		status := http.StatusOK
		for _, res := range results {
			if body.Checks == nil {
				body.Checks = make(map[string]string, len(results))
			}
			if res.Err != nil {
				body.Checks[res.Name] = "failed"
				status, body.Status = http.StatusServiceUnavailable, "unhealthy"
				logger.LogAttrs(r.Context(), slog.LevelError, "liveness check failed",
					slog.String("check", res.Name), slog.Any("error", res.Err))
			} else {
				body.Checks[res.Name] = "ok"
			}
		}
		w.Header().Set("Cache-Control", "no-store")
		_ = web.WriteJSON(w, status, body)
	})
}

// readinessBody is the JSON the readiness endpoint returns. Check errors
// are logged, not sent: the endpoint is usually reachable from outside.
type readinessBody struct {
	Status string            `json:"status"`
	Checks map[string]string `json:"checks,omitempty"`
}

// readyz is the readiness endpoint: 200 {"status":"ok"} while ready, 503
// {"status":"unavailable"} while a check fails, and 503
// {"status":"shutting down"} once shutdown has started.
func readyz(rd *Readiness, logger *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		results, err := rd.Check(r.Context())
		body := readinessBody{Status: "ok"}
		if len(results) > 0 {
			body.Checks = make(map[string]string, len(results))
		}
		for _, res := range results {
			if res.Err != nil {
				body.Checks[res.Name] = "failed"
				logger.LogAttrs(r.Context(), slog.LevelWarn, "readiness check failed",
					slog.String("check", res.Name), slog.Any("error", res.Err))
			} else {
				body.Checks[res.Name] = "ok"
			}
		}
		status := http.StatusOK
		switch {
		case err == ErrShuttingDown:
			status, body.Status = http.StatusServiceUnavailable, "shutting down"
		case err != nil:
			status, body.Status = http.StatusServiceUnavailable, "unavailable"
		}
		w.Header().Set("Cache-Control", "no-store")
		_ = web.WriteJSON(w, status, body)
	})
}
