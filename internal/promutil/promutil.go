// Package promutil holds the small Prometheus helpers gizmo's packages
// share.
package promutil

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// RegisterOrReuse registers c on reg, or returns the equal collector
// already registered there, so that components sharing a registry share
// their metrics. what names the metrics in errors.
func RegisterOrReuse[C prometheus.Collector](reg prometheus.Registerer, what string, c C) (C, error) {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if existing, ok := are.ExistingCollector.(C); ok {
				return existing, nil
			}
		}
		return c, fmt.Errorf("register %s metrics: %w", what, err)
	}
	return c, nil
}
