package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/calllog"
)

type okPinger struct{}

func (okPinger) Ping(context.Context) error { return nil }

func readyBody(t *testing.T, s *Server) (int, map[string]any) {
	t.Helper()
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/ready", nil)
	req.Header.Set("Authorization", "Bearer "+s.cfg.BearerTokens[0].Value) // the details need a token
	s.handleReady(w, req)
	var body map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	return w.Code, body
}

// TestReadyReportsDegradedWithoutFailing: a high error rate or a full
// call capacity shows in /ready's "degraded" list; the answer stays 200.
func TestReadyReportsDegradedWithoutFailing(t *testing.T) {
	s, _ := testServer(t, false)
	s.DB = okPinger{}
	if code, body := readyBody(t, s); code != 200 || body["degraded"] != nil {
		t.Fatalf("idle /ready = %d %v", code, body)
	}
	now := time.Now()
	for i := 0; i < 30; i++ {
		status := http.StatusOK
		if i%3 == 0 {
			status = http.StatusInternalServerError
		}
		s.load.observe(status, now)
	}
	s.Metrics.ActiveCalls.Set(float64(s.cfg.MaxConcurrentCalls))
	code, body := readyBody(t, s)
	if code != 200 || body["status"] != "ok" {
		t.Fatalf("/ready under pressure = %d %v, want 200 ok", code, body)
	}
	got, _ := body["degraded"].([]any)
	want := map[string]bool{"error_rate": true, "connections": true}
	if len(got) != len(want) {
		t.Fatalf("degraded = %v, want %v", got, want)
	}
	for _, r := range got {
		if !want[r.(string)] {
			t.Fatalf("degraded = %v, want %v", got, want)
		}
	}
}

func TestLoadTrackerWindow(t *testing.T) {
	var l loadTracker
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 10; i++ {
		l.observe(500, t0)
	}
	if rate, n := l.rate(t0.Add(30 * time.Second)); rate != 1 || n != 10 {
		t.Fatalf("same minute: rate %v over %d", rate, n)
	}
	// Half a minute into the next bucket, half the old one still counts.
	l.observe(200, t0.Add(90*time.Second))
	if rate, n := l.rate(t0.Add(90 * time.Second)); n != 6 || rate < 0.8 || rate > 0.85 {
		t.Fatalf("next minute: rate %v over %d", rate, n)
	}
	if _, n := l.rate(t0.Add(5 * time.Minute)); n != 0 {
		t.Fatalf("five minutes later %d requests still count", n)
	}
}

// FuzzViewerMessage: the one message a /logs viewer may send. Whatever
// arrives, the parser must not panic, and what it accepts is a call SID
// or the empty filter.
func FuzzViewerMessage(f *testing.F) {
	f.Add(websocket.TextMessage, []byte(`{"type":"filter","callSid":"CA0000000000000000000000000000a001"}`))
	f.Add(websocket.TextMessage, []byte(`{"type":"filter","callSid":""}`))
	f.Add(websocket.BinaryMessage, []byte(`{"type":"filter","callSid":""}`))
	f.Add(websocket.TextMessage, []byte(`{"type":"filter","callSid":"x","extra":1}`))
	f.Fuzz(func(t *testing.T, kind int, b []byte) {
		sid, err := parseViewerMessage(kind, b)
		if err != nil {
			return
		}
		if sid != "" && !callSIDPattern.MatchString(sid) {
			t.Fatalf("accepted call SID %q", sid)
		}
	})
}

// FuzzListQuery: the query strings and cursors of /api/audit and
// /api/calls never panic, and accepted values are within their limits.
func FuzzListQuery(f *testing.F) {
	f.Add("type=authentication_failure&limit=5&cursor=YTEy")
	f.Add("since=2026-01-01T00:00:00Z&until=2026-01-02T00:00:00Z")
	f.Add("status=ended&limit=2&cursor=MTcwMDAwMDAwMDAwMC5DQTAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAx")
	f.Add("cursor=%zz&limit=-1")
	f.Add("direction=outbound&agentId=agt_0123456789abcdef01234567&since=2026-01-01T00:00:00Z&until=2026-01-01T00:00:00.5Z")
	f.Add("agentId=default&until=0000-01-01T00:00:00Z")
	f.Fuzz(func(t *testing.T, raw string) {
		r := httptest.NewRequest("GET", "/api/audit", nil)
		r.URL.RawQuery = raw
		q, err := queryParams(r)
		if err != nil {
			return
		}
		if f, err := auditFilter(q, time.Now()); err == nil {
			if f.Limit < 1 || f.Limit > auditMaxLimit || f.BeforeID < 0 || !f.Until.After(f.Since) {
				t.Fatalf("accepted audit filter %+v", f)
			}
		}
		r.URL.Path = "/api/calls"
		if f, err := callFilter(r); err == nil {
			if f.Limit < 1 || f.Limit > calllog.MaxLimit || (f.Direction != "" && f.Direction != "inbound" && f.Direction != "outbound") ||
				(!f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since)) || f.Validate() != nil {
				t.Fatalf("accepted call filter %+v", f)
			}
		} else if apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("call filter %q: %v, want invalid", raw, err)
		}
		if c := q.Get("cursor"); c != "" {
			if cur, err := decodeCallCursor(c); err == nil && !callSIDPattern.MatchString(cur.CallSID) {
				t.Fatalf("accepted call cursor %+v", cur)
			}
		}
	})
}
