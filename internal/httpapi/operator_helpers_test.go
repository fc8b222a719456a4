package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/voiceagent/voiceagent/api"
	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store"
)

// Test numbers (reserved) and SIDs (obviously fake).
const (
	outboundNumber = "+15005550006"
	targetNumber   = "+15555550100"
	callerNumber   = "+15555550142"
	callerSID      = "CA0123456789abcdef0123456789abcdef"
	confName       = "conf_" + callerSID
)

var (
	specOnce   sync.Once
	specRouter routers.Router
	specErr    error
)

// spec loads and validates api/openapi.yaml once per test binary.
func spec(t *testing.T) routers.Router {
	t.Helper()
	specOnce.Do(func() {
		// TwiML answers are checked as text.
		openapi3filter.RegisterBodyDecoder("text/xml", func(body io.Reader, _ http.Header, _ *openapi3.SchemaRef, _ openapi3filter.EncodingFn) (any, error) {
			b, err := io.ReadAll(body)
			return string(b), err
		})
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(api.OpenAPI)
		if err != nil {
			specErr = err
			return
		}
		if specErr = doc.Validate(context.Background()); specErr != nil {
			return
		}
		doc.Servers = nil // match any host
		specRouter, specErr = gorillamux.NewRouter(doc)
	})
	if specErr != nil {
		t.Fatalf("api/openapi.yaml: %v", specErr)
	}
	return specRouter
}

// opAPI is the real, wired server with a fake Twilio REST server behind it.
type opAPI struct {
	t   *testing.T
	srv *apptest.Server
	tw  *fake.TwilioREST
}

func newOpAPI(t *testing.T, db *store.DB, env map[string]string) *opAPI {
	t.Helper()
	tw := fake.NewTwilioREST(apptest.AccountSID, apptest.AccountSID, apptest.AuthToken)
	t.Cleanup(tw.Close)
	e := map[string]string{"TWILIO_OUTBOUND_NUMBER": outboundNumber}
	for k, v := range env {
		e[k] = v
	}
	srv := apptest.New(t, apptest.Options{DB: db, Env: e, App: app.Options{TwilioHTTPClient: tw.HTTPClient()}})
	return &opAPI{t: t, srv: srv, tw: tw}
}

// call sends a request with the test bearer token (unless hdr sets
// Authorization; "" there means none), checks the answer against the
// OpenAPI document (status declared, body valid) and returns it.
func (a *opAPI) call(method, path, body string, hdr map[string]string) (*http.Response, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apptest.Bearer)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkSpec(a.t, req, resp, b)
	return resp, b
}

// checkSpec validates one exchange against the OpenAPI document.
func checkSpec(t *testing.T, req *http.Request, resp *http.Response, body []byte) {
	t.Helper()
	if req.Method == http.MethodOptions {
		return // CORS preflights are answered by middleware, not described per route
	}
	route, params, err := spec(t).FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: not in api/openapi.yaml: %v", req.Method, req.URL.Path, err)
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
			Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
		},
		Status:  resp.StatusCode,
		Header:  resp.Header,
		Body:    io.NopCloser(bytes.NewReader(body)),
		Options: &openapi3filter.Options{IncludeResponseStatus: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		msg := err.Error()
		if len(msg) > 600 {
			msg = msg[:600] + "..."
		}
		if len(body) > 300 {
			body = append(body[:300:300], "..."...)
		}
		t.Fatalf("%s %s -> %d %s: answer does not match api/openapi.yaml: %s", req.Method, req.URL.Path, resp.StatusCode, body, msg)
	}
}

// seedCall records an answered, live call as the inbound webhook would.
func seedCall(t *testing.T, db *store.DB, callSID, from string) {
	t.Helper()
	ms := time.Now().UnixMilli()
	_, err := db.SQL.ExecContext(context.Background(), `INSERT INTO calls (call_sid, account_sid, from_number, to_number, decision, status, active, created_at, updated_at)
VALUES ($1, $2, $3, $4, 'accept', 'in-progress', 1, $5, $5)`, callSID, apptest.AccountSID, from, "+15005550001", ms)
	if err != nil {
		t.Fatalf("seed call: %v", err)
	}
}

func count(t *testing.T, db *store.DB, table string) int {
	t.Helper()
	var n int
	if err := db.SQL.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM `+table).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func appOpts(tw *fake.TwilioREST) app.Options { return app.Options{TwilioHTTPClient: tw.HTTPClient()} }
