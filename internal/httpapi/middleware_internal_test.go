package httpapi

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/metrics"
)

func TestRealIPTrustsOnlyConfiguredProxies(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	tests := []struct {
		name, remote, xff, want string
	}{
		{"no proxy header", "203.0.113.9:1234", "", "203.0.113.9"},
		{"untrusted peer ignores header", "203.0.113.9:1234", "198.51.100.1", "203.0.113.9"},
		{"trusted peer", "10.1.2.3:1234", "198.51.100.1", "198.51.100.1"},
		{"spoofed left entries ignored", "10.1.2.3:1234", "1.2.3.4, 198.51.100.1, 10.0.0.7", "198.51.100.1"},
		{"garbage header", "10.1.2.3:1234", "not-an-ip", "10.1.2.3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got string
			h := realIP(trusted, nil)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = ClientIP(r.Context()) }))
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			if tt.xff != "" {
				r.Header.Set("X-Forwarded-For", tt.xff)
			}
			h.ServeHTTP(httptest.NewRecorder(), r)
			if got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func testServer(t *testing.T, prod bool) (*Server, *strings.Builder) {
	t.Helper()
	cfg, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if prod {
		cfg.Env = config.Production
	}
	var logs strings.Builder
	log := logging.New(&logs, "json", "debug")
	rec := audit.NewRecorder(nopAudit{}, logging.Discard())
	t.Cleanup(rec.Close)
	return &Server{Deps: Deps{Config: cfg, Log: log, Audit: rec, Metrics: metrics.New(nil)}, cfg: cfg, log: log, lockout: newAuthLockout(cfg.AuthFailLimit), xffWarn: newPeerWarner(log),
		refusals: audit.NewRefusals(rec), refusalLimit: newFailLimiter(refusalLimit, refusalWindow)}, &logs
}

func TestRecovererHidesThePanic(t *testing.T) {
	for _, prod := range []bool{false, true} {
		s, logs := testServer(t, prod)
		h := s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("secret detail +14155550355") }))
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest("GET", "/x", nil))
		if w.Code != 500 || strings.Contains(w.Body.String(), "secret") || !strings.Contains(w.Body.String(), `"internal"`) {
			t.Fatalf("prod=%v: %d %s", prod, w.Code, w.Body)
		}
		if strings.Contains(logs.String(), "4155550355") {
			t.Fatalf("prod=%v: number in log: %s", prod, logs.String())
		}
		if hasStack := strings.Contains(logs.String(), "goroutine"); hasStack == prod {
			t.Fatalf("prod=%v: stack in log = %v", prod, hasStack)
		}
	}
}

func TestMaxBodyAnswers413(t *testing.T) {
	s, _ := testServer(t, false)
	h := maxBody(1024)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		if err := decodeJSON(r, &v); err != nil {
			s.writeError(w, r, err)
			return
		}
		w.WriteHeader(204)
	}))
	big := `{"a":"` + strings.Repeat("x", 2048) + `"}`
	// Declared length over the limit, and a chunked body that grows past it.
	for _, chunked := range []bool{false, true} {
		r := httptest.NewRequest("POST", "/", strings.NewReader(big))
		r.Header.Set("Content-Type", "application/json")
		if chunked {
			r.ContentLength = -1
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 413 || !strings.Contains(w.Body.String(), "too_large") {
			t.Fatalf("chunked=%v: %d %s", chunked, w.Code, w.Body)
		}
	}
}

func TestDecodeJSONRefusals(t *testing.T) {
	s, _ := testServer(t, false)
	tests := []struct {
		name, ct, body string
		status         int
	}{
		{"ok", "application/json", `{"name":"x"}`, 204},
		{"wrong type", "text/plain", `{"name":"x"}`, 415},
		{"no type", "", `{"name":"x"}`, 415},
		{"unknown field", "application/json", `{"name":"x","admin":true}`, 400},
		{"malformed", "application/json", `{"name":`, 400},
		{"trailing", "application/json", `{"name":"x"} {}`, 400},
		{"empty", "application/json", ``, 400},
		{"wrong field type", "application/json; charset=utf-8", `{"name":5}`, 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				var v struct {
					Name string `json:"name"`
				}
				if err := decodeJSON(r, &v); err != nil {
					s.writeError(w, r, err)
					return
				}
				w.WriteHeader(204)
			})
			r := httptest.NewRequest("POST", "/", strings.NewReader(tt.body))
			if tt.ct != "" {
				r.Header.Set("Content-Type", tt.ct)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tt.status {
				t.Fatalf("status = %d, want %d (%s)", w.Code, tt.status, w.Body)
			}
		})
	}
}
