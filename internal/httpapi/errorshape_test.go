package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"github.com/voiceagent/voiceagent/internal/app"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/httpapi"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/metrics"
)

// codeStatus is the error code each status must carry: the contract a
// client reads, written out here independently of the code under test.
var codeStatus = map[string]int{
	"invalid": 400, "unauthenticated": 401, "forbidden": 403, "not_found": 404, "method_not_allowed": 405,
	"conflict": 409, "too_large": 413, "unsupported_media_type": 415, "rate_limited": 429,
	"internal": 500, "upstream_error": 502, "unavailable": 503,
}

// twimlPath reports whether path is a Twilio webhook, answered with TwiML.
func twimlPath(path string) bool {
	return strings.HasPrefix(path, "/voice/") || path == "/twiml" || path == "/conference/events"
}

// checkErrorShape fails unless an error answer (4xx, 5xx) has the one
// error shape of its surface: {"error":{"code","message"}} with a code
// that matches the status, or an empty TwiML <Response/> for Twilio's
// webhooks (twiml). /ready's 503 is a probe's status report, not an
// error. A HEAD answer has the type but no body.
func checkErrorShape(t *testing.T, what string, twiml bool, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode < 400 || resp.Request.URL.Path == "/ready" {
		return
	}
	ct := resp.Header.Get("Content-Type")
	if resp.Request.Method == http.MethodHead {
		if want := map[bool]string{true: "text/xml", false: "application/json"}[twiml]; !strings.HasPrefix(ct, want) {
			t.Errorf("%s: %d %q, want %s", what, resp.StatusCode, ct, want)
		}
		return
	}
	if twiml {
		var doc struct {
			XMLName xml.Name
		}
		if !strings.HasPrefix(ct, "text/xml") || xml.Unmarshal(body, &doc) != nil || doc.XMLName.Local != "Response" {
			t.Errorf("%s: %d %q %q is not a TwiML error", what, resp.StatusCode, ct, body)
		}
		return
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if !strings.HasPrefix(ct, "application/json") || dec.Decode(&e) != nil || e.Error.Message == "" {
		t.Errorf("%s: %d %q %q is not the JSON error shape", what, resp.StatusCode, ct, body)
		return
	}
	if want, ok := codeStatus[e.Error.Code]; !ok || want != resp.StatusCode {
		t.Errorf("%s: status %d with code %q", what, resp.StatusCode, e.Error.Code)
	}
}

// routeList walks a router: every method and pattern, parameters filled
// with values of the right shape.
func routeList(t *testing.T, h http.Handler) [][2]string {
	t.Helper()
	router, ok := h.(chi.Routes)
	if !ok {
		t.Fatal("server router is not a chi router")
	}
	fill := strings.NewReplacer(
		"{token}", "tok0123456789abcdefABCDEF",
		"{id}", "ct_0123456789abcdef",
		"{list:blocked|allowed}", "blocked",
		"{number}", "+14155550100",
		"{phoneNumber}", "+14155550100",
		"{name}", "conf_CA00000000000000000000000000000000",
		"{file}", "app.js",
	)
	var out [][2]string
	err := chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.ReplaceAll(route, "/*/", "/")
		if method == http.MethodConnect || method == http.MethodTrace || route == "" {
			return nil
		}
		out = append(out, [2]string{method, fill.Replace(route)})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) < 40 {
		t.Fatalf("walked %d routes; the router has more", len(out))
	}
	return out
}

// errorProbe is one way to get a route to refuse a request. A probe
// that misses every route (wrong method, unknown subpath) is answered by
// the router itself, in JSON on every path: it has chosen no surface.
type errorProbe struct {
	name   string
	missed bool
	method func(route string) string // nil: the route's own
	path   func(route string) string // nil: the route's own
	header http.Header
	body   string
}

func errorProbes(bearer string) []errorProbe {
	jsonCT := http.Header{"Content-Type": {"application/json"}}
	withAuth := func(h http.Header) http.Header {
		h = h.Clone()
		if h == nil {
			h = http.Header{}
		}
		h.Set("Authorization", "Bearer "+bearer)
		return h
	}
	return []errorProbe{
		{name: "no credentials"},
		{name: "wrong bearer token", header: http.Header{"Authorization": {"Bearer wrong-token-0123456789abcdef0123"}}},
		{name: "malformed JSON", header: withAuth(jsonCT), body: "{"},
		{name: "wrong content type", header: withAuth(http.Header{"Content-Type": {"text/plain"}}), body: "x"},
		{name: "unknown field", header: withAuth(jsonCT), body: `{"nope":1}`},
		{name: "oversize body", header: withAuth(jsonCT), body: `{"a":"` + strings.Repeat("x", 6<<20) + `"}`},
		{name: "not a WebSocket upgrade", header: withAuth(nil)},
		{name: "Origin on a WebSocket", header: withAuth(http.Header{"Origin": {"https://evil.example"}, "Connection": {"Upgrade"},
			"Upgrade": {"websocket"}, "Sec-Websocket-Version": {"13"}, "Sec-Websocket-Key": {"dGhlIHNhbXBsZSBub25jZQ=="}})},
		{name: "wrong method", missed: true, header: withAuth(nil), method: func(string) string { return "PATCH" }},
		{name: "unknown subpath", missed: true, header: withAuth(nil), path: func(p string) string { return p + "/no-such-thing" }},
	}
}

func probe(t *testing.T, base, method, path string, header http.Header, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// walkErrors sends every probe to every route of the server at base and
// holds each refusal to its surface's error shape. It returns how many
// refusals it saw.
func walkErrors(t *testing.T, base string, router http.Handler, bearer string) int {
	t.Helper()
	seen := 0
	for _, rt := range routeList(t, router) {
		for _, p := range errorProbes(bearer) {
			method, path := rt[0], rt[1]
			if p.method != nil {
				if path == "/twiml" {
					continue // served for every method
				}
				method = p.method(path)
			}
			if p.path != nil {
				path = p.path(path)
			}
			resp, body := probe(t, base, method, path, p.header, p.body)
			if resp.StatusCode >= 400 {
				seen++
			}
			checkErrorShape(t, fmt.Sprintf("%s %s (%s)", method, path, p.name), twimlPath(path) && !p.missed, resp, body)
		}
	}
	return seen
}

// TestEveryErrorIsOneShape walks the whole router of a fully wired server
// and sends each route requests it must refuse (no or wrong credentials,
// bad bodies, oversize bodies, wrong methods, unknown subpaths, requests
// that are not WebSocket upgrades): every refusal is the JSON error shape
// with a code matching its status, or TwiML on Twilio's webhooks.
func TestEveryErrorIsOneShape(t *testing.T) {
	srv := apptest.New(t, apptest.Options{Env: map[string]string{"API_REQUESTS_PER_MINUTE": "1000000", "AUTH_FAILURE_LIMIT": "100000"}})
	if n := walkErrors(t, srv.URL, srv.Server.Router(), apptest.Bearer); n < 100 {
		t.Fatalf("only %d refusals seen; the probes no longer reach the routes", n)
	}
	// Signed Twilio webhooks with parameters the handlers refuse.
	for _, path := range []string{"/voice/status", "/conference/events", "/voice/incoming"} {
		req, err := fake.SignedRequest(context.Background(), "POST", srv.URL, apptest.PublicURL, path, apptest.AuthToken,
			url.Values{"CallSid": {"CA00000000000000000000000000000000"}, "CallDuration": {"soon"}, "SequenceNumber": {"-1"}})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		checkErrorShape(t, "signed "+path, true, resp, b)
	}
}

// TestUnwiredRoutesAnswer503InTheirShape builds a server with no services
// wired: every route whose service is missing answers 503 through the
// route table's guard, in its surface's shape.
func TestUnwiredRoutesAnswer503InTheirShape(t *testing.T) {
	cfg, err := config.Load(func(k string) string {
		return map[string]string{"INTERNAL_API_BEARER": apptest.Bearer, "TWILIO_VALIDATE": "false",
			"API_REQUESTS_PER_MINUTE": "1000000", "AUTH_FAILURE_LIMIT": "100000"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	log := logging.Discard()
	rec := audit.NewRecorder(nopAuditStore{}, log)
	t.Cleanup(rec.Close)
	s := httpapi.New(httpapi.Deps{Log: log, Audit: rec, Metrics: metrics.New(nil)}, app.HTTPSettings(cfg))
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	walkErrors(t, hs.URL, s.Router(), apptest.Bearer)
	unavailable := 0
	for _, rt := range routeList(t, s.Router()) {
		h := http.Header{"Authorization": {"Bearer " + apptest.Bearer}, "Content-Type": {"application/json"}}
		resp, body := probe(t, hs.URL, rt[0], rt[1], h, "{}")
		checkErrorShape(t, "unwired "+rt[0]+" "+rt[1], twimlPath(rt[1]), resp, body)
		if resp.StatusCode == http.StatusServiceUnavailable {
			unavailable++
		}
	}
	if unavailable < 30 {
		t.Fatalf("%d unwired routes answered 503, want every service route", unavailable)
	}
}

type nopAuditStore struct{}

func (nopAuditStore) InsertAuditEvents(context.Context, []audit.Event) error { return nil }
