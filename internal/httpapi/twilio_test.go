package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
)

func twilioAuthFailures(t *testing.T, srv *apptest.Server) float64 {
	t.Helper()
	var m dto.Metric
	if err := srv.Metrics.AuthFailures.WithLabelValues("twilio").Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

// auditRows returns the stored audit rows of a type (after a flush).
type auditRow struct {
	Actor, RemoteIP, CallSID string
	Detail                   map[string]any
}

func auditRows(t *testing.T, srv *apptest.Server, typ string) []auditRow {
	t.Helper()
	srv.Audit.Flush(context.Background())
	rows, err := srv.DB.SQL.QueryContext(context.Background(),
		`SELECT actor, remote_ip, call_sid, detail FROM audit_events WHERE type = $1 ORDER BY id`, typ)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []auditRow
	for rows.Next() {
		var r auditRow
		var detail string
		if err := rows.Scan(&r.Actor, &r.RemoteIP, &r.CallSID, &detail); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(detail), &r.Detail); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

// TestSignatureVectorsThroughRouter sends every shared vector (signed by
// Twilio's official library) to the real server configured with the
// vector's public base: valid ones get the route's own answer, invalid
// ones get 401 (no signature) or 403 with an empty TwiML body, an audit
// row with a masked IP and a metric. Every vector is also sent to the
// server's signature middleware mounted alone in front of a 204 handler,
// so its verdict is checked exactly; that is how Twilio's documentation
// vector (for /myapp.php, a path the router has no route for) is checked.
func TestSignatureVectorsThroughRouter(t *testing.T) {
	f, err := fake.LoadSignatureVectors()
	if err != nil {
		t.Fatal(err)
	}
	vectors := f.Vectors
	type target struct {
		srv  *apptest.Server
		gate *httptest.Server // srv's TwilioAuth alone, then 204
	}
	targets := map[string]target{}
	parent := t
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			u, err := url.Parse(v.URL)
			if err != nil {
				t.Fatal(err)
			}
			tok := f.TokenFor(v)
			base := u.Scheme + "://" + u.Host
			key := base + " " + tok
			tg, ok := targets[key]
			if !ok {
				tg.srv = apptest.New(parent, apptest.Options{Env: map[string]string{"PUBLIC_URL": base, "TWILIO_AUTH_TOKEN": tok}})
				tg.gate = httptest.NewServer(tg.srv.Server.TwilioAuth(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					w.WriteHeader(http.StatusNoContent)
				})))
				parent.Cleanup(tg.gate.Close)
				targets[key] = tg
			}
			var body, ctype string
			if v.Body != nil {
				body, ctype = *v.Body, "application/json"
			} else {
				form := url.Values{}
				for k, val := range v.Params {
					form.Set(k, val)
				}
				body, ctype = form.Encode(), "application/x-www-form-urlencoded"
			}
			post := func(base string) (int, []byte) {
				t.Helper()
				req, _ := http.NewRequest(http.MethodPost, base+u.RequestURI(), strings.NewReader(body))
				req.Header.Set("Content-Type", ctype)
				if v.Signature != "" {
					req.Header.Set("X-Twilio-Signature", v.Signature)
				}
				return send(t, req)
			}
			want := http.StatusForbidden
			switch {
			case v.Valid:
				want = http.StatusNoContent
			case v.Signature == "":
				want = http.StatusUnauthorized
			}
			before := twilioAuthFailures(t, tg.srv)
			if status, resp := post(tg.gate.URL); status != want {
				t.Fatalf("signature middleware: status %d, want %d (%s)", status, want, resp)
			}
			wantFailures := before + 1
			if v.Valid {
				wantFailures = before
			}
			if after := twilioAuthFailures(t, tg.srv); after != wantFailures {
				t.Fatalf("signature middleware: auth failures %v -> %v, want %v", before, after, wantFailures)
			}
			if u.Path == "/myapp.php" {
				return // not routed: the middleware's verdict above is the check
			}

			before = twilioAuthFailures(t, tg.srv)
			status, resp := post(tg.srv.URL)
			after := twilioAuthFailures(t, tg.srv)
			if v.Valid {
				want := http.StatusOK // TwiML answers
				switch {
				case v.Body != nil:
					// Signed JSON passes the check; /conference/events
					// then refuses a body that is not a form.
					want = http.StatusBadRequest
				case u.Path == "/conference/events":
					want = http.StatusNoContent
				}
				if status != want {
					t.Fatalf("valid vector: status %d, want %d (%s)", status, want, resp)
				}
				if after != before {
					t.Fatal("valid vector counted as an auth failure")
				}
				return
			}
			if status != want {
				t.Fatalf("invalid vector: status %d, want %d (%s)", status, want, resp)
			}
			if n := parseResponse(t, resp); len(n.Nodes) != 0 {
				t.Fatalf("refusal body has verbs: %s", resp)
			}
			if after != before+1 {
				t.Fatalf("auth failures %v -> %v", before, after)
			}
		})
	}
}

// TestSignatureRefusals: a request signed for another path, with a changed
// or an extra parameter, or without a signature is refused and audited
// without the IP in clear; TWILIO_VALIDATE=false (development) lets it in.
func TestSignatureRefusals(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	ctx := context.Background()
	params := incomingParams(1, "+15555550100")
	sign := func(path string, p url.Values) string {
		return fake.Signature(apptest.AuthToken, apptest.PublicURL+path, p)
	}
	post := func(path string, p url.Values, sig string) (int, []byte) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, strings.NewReader(p.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if sig != "" {
			req.Header.Set("X-Twilio-Signature", sig)
		}
		return send(t, req)
	}
	changed := url.Values{}
	extra := url.Values{}
	for k, v := range params {
		changed[k], extra[k] = v, v
	}
	changed.Set("From", "+15555550101")
	extra.Set("Digits", "1")

	for _, tc := range []struct {
		name   string
		path   string
		params url.Values
		sig    string
		want   int
	}{
		{"signed for another path", "/voice/accept", params, sign("/voice/incoming", params), 403},
		{"changed parameter", "/voice/incoming", changed, sign("/voice/incoming", params), 403},
		{"extra parameter", "/voice/incoming", extra, sign("/voice/incoming", params), 403},
		{"query added", "/voice/incoming?x=1", params, sign("/voice/incoming", params), 403},
		{"no signature", "/voice/status", params, "", 401},
		{"signature of the host the request used", "/voice/incoming", params, fake.Signature(apptest.AuthToken, srv.URL+"/voice/incoming", params), 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.path, tc.params, tc.sig)
			if status != tc.want {
				t.Fatalf("status %d, want %d (%s)", status, tc.want, body)
			}
			parseResponse(t, body)
		})
	}
	// Aggregated: one row per (client IP, reason) written at once, the
	// repeats counted into the next one (refusals.go).
	rows := auditRows(t, srv, "authentication_failure")
	if len(rows) != 2 {
		t.Fatalf("audit rows = %d, want 2 (bad_signature, missing_signature)", len(rows))
	}
	for _, r := range rows {
		if r.Detail["surface"] != "twilio" || r.RemoteIP == "127.0.0.1" || r.RemoteIP == "" {
			t.Fatalf("audit row = %+v", r)
		}
	}
	// Nothing was stored for a refused call.
	var n int
	srv.DB.SQL.QueryRowContext(ctx, `SELECT COUNT(*) FROM calls`).Scan(&n)
	if n != 0 {
		t.Fatalf("calls stored from refused requests: %d", n)
	}

	dev := apptest.New(t, apptest.Options{Env: map[string]string{"TWILIO_VALIDATE": "false"}})
	req, _ := http.NewRequest(http.MethodPost, dev.URL+"/voice/incoming", strings.NewReader(params.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, body := send(t, req); status != 200 || parseResponse(t, body).shape() != "Gather,Redirect" {
		t.Fatalf("TWILIO_VALIDATE=false: %d %s", status, body)
	}
}

// TestTwilioBadBodies: oversize, malformed and unexpected bodies get a
// 4xx with a TwiML body, never a 5xx.
func TestTwilioBadBodies(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	big := url.Values{"CallSid": {"CA00000000000000000000000000000001"}, "Pad": {strings.Repeat("x", 70<<10)}}
	signedRaw := func(path, body, ctype string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", ctype)
		form, _ := url.ParseQuery(body)
		req.Header.Set("X-Twilio-Signature", fake.Signature(apptest.AuthToken, apptest.PublicURL+path, form))
		return send(t, req)
	}
	cases := []struct {
		name, path, body, ctype string
		want                    int
	}{
		{"oversize", "/voice/incoming", big.Encode(), "application/x-www-form-urlencoded", 413},
		{"no CallSid", "/voice/incoming", "From=%2B15555550100", "application/x-www-form-urlencoded", 400},
		{"malformed CallSid", "/voice/incoming", "CallSid=CA%3Cx%3E&From=%2B15555550100", "application/x-www-form-urlencoded", 400},
		{"JSON instead of a form", "/voice/accept", `{"CallSid":"CA00000000000000000000000000000001"}`, "application/json", 400},
		{"bad status duration", "/voice/status", "CallSid=CA00000000000000000000000000000001&CallStatus=completed&CallDuration=abc", "application/x-www-form-urlencoded", 400},
		{"bad status sequence", "/voice/status", "CallSid=CA00000000000000000000000000000001&CallStatus=completed&SequenceNumber=-4", "application/x-www-form-urlencoded", 400},
		{"bad status value", "/voice/status", "CallSid=CA00000000000000000000000000000001&CallStatus=%3Cscript%3E", "application/x-www-form-urlencoded", 400},
		{"unknown call status", "/voice/status", "CallSid=CA00000000000000000000000000000009&CallStatus=completed&Foo=bar", "application/x-www-form-urlencoded", 200},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, body := signedRaw(tc.path, tc.body, tc.ctype)
			if status != tc.want {
				t.Fatalf("status %d, want %d (%s)", status, tc.want, body)
			}
			parseResponse(t, body)
		})
	}
	// Malformed percent-encoding with validation off reaches the form
	// parser: still a 400.
	dev := apptest.New(t, apptest.Options{Env: map[string]string{"TWILIO_VALIDATE": "false"}})
	req, _ := http.NewRequest(http.MethodPost, dev.URL+"/voice/incoming", strings.NewReader("CallSid=%zz"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if status, body := send(t, req); status != 400 {
		t.Fatalf("malformed form: %d %s", status, body)
	}
}
