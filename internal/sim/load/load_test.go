package load

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
)

func TestSummarize(t *testing.T) {
	us := make([]uint32, 0, 100)
	for i := 100; i >= 1; i-- {
		us = append(us, uint32(i*1000))
	}
	l := summarize(us)
	if l.N != 100 || l.P50 != 50*time.Millisecond || l.P99 != 99*time.Millisecond || l.Max != 100*time.Millisecond {
		t.Fatalf("summarize = %+v", l)
	}
	if got := summarize(nil); got.N != 0 {
		t.Fatalf("summarize(nil) = %+v", got)
	}
}

func TestProbeSeqRoundTrip(t *testing.T) {
	r := &recorder{clk: clock{base: time.Now()}}
	c := &loadCall{idx: 7, upRecv: make([]uint32, 10)}
	r.calls = make([]*loadCall, 8)
	r.calls[7] = c
	frame := fake.EncodeProbeFrame(probeSeq(7, 3))
	r.onAppended(nil, append(frame, fake.EncodeProbeFrame(probeSeq(7, 4))...), time.Now())
	r.onAppended(nil, frame, time.Now())
	if c.upRecv[3] == 0 || c.upRecv[4] == 0 || c.upDup != 1 || c.upRecvN.Load() != 2 {
		t.Fatalf("frames 3 and 4 = %d %d, dup %d", c.upRecv[3], c.upRecv[4], c.upDup)
	}
	if c.sess.Load() == nil {
		t.Fatal("call not linked to its model session")
	}
}

// TestScrapeMetricsSumsLabelledSeries: a labelled family (the events shed
// by reason) is read as the sum of its series, an unlabelled one as is,
// comments and other families are skipped, and a family the server has
// not written is absent.
func TestScrapeMetricsSumsLabelledSeries(t *testing.T) {
	const page = `# HELP voiceagent_events_shed_total Live events not sent.
# TYPE voiceagent_events_shed_total counter
voiceagent_events_shed_total{reason="backlog"} 3
voiceagent_events_shed_total{reason="send failed"} 4
voiceagent_events_shed_totally 100
go_goroutines 42
`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer tok" {
			http.Error(w, "no", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, page)
	}))
	defer srv.Close()
	ctx := context.Background()
	m, err := scrapeMetrics(ctx, sim.Target{BaseURL: srv.URL, Bearer: "tok"}, "voiceagent_events_shed_total", "go_goroutines", "go_memstats_heap_inuse_bytes")
	if err != nil {
		t.Fatal(err)
	}
	if m["voiceagent_events_shed_total"] != 7 || m["go_goroutines"] != 42 {
		t.Fatalf("scraped %v, want shed 7 and goroutines 42", m)
	}
	if _, ok := m["go_memstats_heap_inuse_bytes"]; ok {
		t.Fatalf("an absent family was read: %v", m)
	}
	if _, err := scrapeMetrics(ctx, sim.Target{BaseURL: srv.URL, Bearer: "wrong"}, "go_goroutines"); err == nil {
		t.Fatal("a refused /metrics read without an error")
	}
}

// TestWebhooksReportReadsShedEvents: a short webhook run against a real
// server (in process, SQLite) reads the shed counter from its /metrics.
func TestWebhooksReportReadsShedEvents(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := sim.StartInProcess(ctx, sim.InProcessOptions{Env: map[string]string{"MAX_CONCURRENT_CALLS": "1000", "CALLS_PER_MINUTE": "100000"}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	rep, err := Webhooks(ctx, p.Target, 0, WebhookOptions{Concurrency: 4, Duration: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Requests == 0 || rep.Statuses[http.StatusOK] == 0 {
		t.Fatalf("no call answered: %+v", rep)
	}
	if rep.ShedErr != nil || rep.EventsShed != 0 {
		t.Fatalf("shed events %v, error %v", rep.EventsShed, rep.ShedErr)
	}
	var out bytes.Buffer
	rep.Print(&out)
	if !strings.Contains(out.String(), "live events shed (not sent to other instances, voiceagent_events_shed_total): 0") {
		t.Fatalf("report:\n%s", out.String())
	}
}
