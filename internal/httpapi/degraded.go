package httpapi

import (
	"net/http"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/go-chi/chi/v5/middleware"
	dto "github.com/prometheus/client_model/go"
)

// Resource thresholds that make /ready report "degraded" (it still
// answers 200: a busy instance should keep serving, but operators and
// dashboards should see it).
const (
	degradedHeapBytes    = 512 << 20 // live heap
	degradedGoroutines   = 10000
	degradedErrorRate    = 0.05 // share of 5xx answers over the last minute ...
	degradedMinRequests  = 20   // ... once there were at least this many
	degradedCallCapacity = 0.9  // live calls / MAX_CONCURRENT_CALLS
	loadWindow           = time.Minute
)

// loadTracker counts answers and server errors over a sliding window of
// two one-minute buckets.
type loadTracker struct {
	mu                 sync.Mutex
	bucket             time.Time
	total, errs        int64
	prevTotal, prevErr int64
}

func (l *loadTracker) observe(status int, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollLocked(now)
	l.total++
	if status >= 500 {
		l.errs++
	}
}

// rate is the error share over roughly the last minute.
func (l *loadTracker) rate(now time.Time) (errRate float64, requests int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rollLocked(now)
	// Weight the previous bucket by how much of it is still in the window.
	w := 1 - float64(now.Sub(l.bucket))/float64(loadWindow)
	total := float64(l.total) + w*float64(l.prevTotal)
	errs := float64(l.errs) + w*float64(l.prevErr)
	if total == 0 {
		return 0, 0
	}
	return errs / total, int64(total + 0.5)
}

func (l *loadTracker) rollLocked(now time.Time) {
	b := now.Truncate(loadWindow)
	switch {
	case b.Equal(l.bucket):
	case b.Sub(l.bucket) == loadWindow:
		l.prevTotal, l.prevErr, l.total, l.errs, l.bucket = l.total, l.errs, 0, 0, b
	default:
		l.prevTotal, l.prevErr, l.total, l.errs, l.bucket = 0, 0, 0, 0, b
	}
}

// trackLoad feeds every answer's status to the load tracker.
func (s *Server) trackLoad(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		if st := ww.Status(); st != 0 {
			s.load.observe(st, time.Now())
		}
	})
}

// degradedReasons lists the thresholds currently exceeded (none: nil).
func (s *Server) degradedReasons() []string {
	var out []string
	// runtime/metrics reads without stopping the world (ReadMemStats would).
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(sample)
	if sample[0].Value.Kind() == metrics.KindUint64 && sample[0].Value.Uint64() > degradedHeapBytes {
		out = append(out, "heap")
	}
	if runtime.NumGoroutine() > degradedGoroutines {
		out = append(out, "goroutines")
	}
	if max := s.cfg.MaxConcurrentCalls; max > 0 && gaugeValue(s.Metrics.ActiveCalls) >= degradedCallCapacity*float64(max) {
		out = append(out, "connections")
	}
	if rate, n := s.load.rate(time.Now()); n >= degradedMinRequests && rate > degradedErrorRate {
		out = append(out, "error_rate")
	}
	return out
}

func gaugeValue(g interface{ Write(*dto.Metric) error }) float64 {
	var m dto.Metric
	if err := g.Write(&m); err != nil || m.Gauge == nil {
		return 0
	}
	return m.Gauge.GetValue()
}
