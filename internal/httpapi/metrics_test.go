package httpapi_test

import (
	"bytes"
	"fmt"
	"net/http"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/poll"
)

// scrape GETs a Prometheus endpoint and parses the text format.
func scrape(t *testing.T, url, auth string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, body := do(t, "GET", url, auth, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s", url, resp.StatusCode, body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse metrics: %v", err)
	}
	return fams
}

// value sums the samples of a family whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	var sum float64
	for _, m := range f.GetMetric() {
		ok := true
		for k, v := range want {
			found := false
			for _, l := range m.GetLabel() {
				found = found || (l.GetName() == k && l.GetValue() == v)
			}
			ok = ok && found
		}
		if !ok {
			continue
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

// TestMetricsMoveDuringASimulatedCall: /metrics needs the token, and the
// call counters, frame counters, active-call gauge and duration histogram
// move while a call runs through the real server.
func TestMetricsMoveDuringASimulatedCall(t *testing.T) {
	rig := newLiveRig(t, nil, nil)
	url, auth := rig.srv.URL+"/metrics", "Bearer "+apptest.Bearer
	if resp, _ := do(t, "GET", url, "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/metrics without a token = %d", resp.StatusCode)
	}
	before := scrape(t, url, auth)
	if got := value(before, "voiceagent_auth_failures_total", map[string]string{"surface": "metrics"}); got != 1 {
		t.Fatalf("auth failures after one refused scrape = %v, want 1", got)
	}
	if before["go_goroutines"] == nil || before["process_cpu_seconds_total"] == nil {
		t.Fatal("runtime and process metrics missing")
	}

	c, _ := rig.call(t, "+15555550123")
	greeted(t, c)
	during := scrape(t, url, auth)
	checks := []struct {
		name   string
		labels map[string]string
	}{
		{"voiceagent_calls_total", nil},
		{"voiceagent_frames_relayed_total", map[string]string{"direction": "model_to_caller"}},
		{"voiceagent_active_calls", nil},
	}
	for _, c := range checks {
		if b, d := value(before, c.name, c.labels), value(during, c.name, c.labels); d <= b {
			t.Errorf("%s%v did not move during the call: %v -> %v", c.name, c.labels, b, d)
		}
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	poll.Wait(t, "the call to end", func() bool {
		after := scrape(t, url, auth)
		return value(after, "voiceagent_active_calls", nil) == 0 && value(after, "voiceagent_call_duration_seconds", nil) == 1
	})
}

// TestMetricsOnAnInternalListener: with METRICS_ADDR the public router has
// no /metrics and the internal listener serves it.
func TestMetricsOnAnInternalListener(t *testing.T) {
	srv := apptest.New(t, apptest.Options{Env: map[string]string{"METRICS_ADDR": "127.0.0.1:0"}})
	if resp, _ := do(t, "GET", srv.URL+"/metrics", "Bearer "+apptest.Bearer, nil); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("public /metrics with METRICS_ADDR = %d, want 404", resp.StatusCode)
	}
	addr := srv.MetricsAddr()
	if addr == nil {
		t.Fatal("no internal metrics listener")
	}
	fams := scrape(t, fmt.Sprintf("http://%s/metrics", addr), "")
	if fams["voiceagent_active_calls"] == nil {
		t.Fatal("internal listener lacks voiceagent metrics")
	}
}
