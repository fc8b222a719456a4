package httpapi

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/voiceagent/voiceagent/internal/metrics"
)

// MetricsHandler serves m's registry in the Prometheus text format. The
// public router mounts it behind the bearer token; with METRICS_ADDR the
// app serves it alone on that internal listener.
func MetricsHandler(m *metrics.Metrics) http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{
		Registry:            m.Registry, // counts its own scrape errors
		MaxRequestsInFlight: 4,
	})
}
