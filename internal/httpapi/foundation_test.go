package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

type errorShape struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func do(t *testing.T, method, url, token string, body io.Reader) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func decodeError(t *testing.T, b []byte) errorShape {
	t.Helper()
	var e errorShape
	if err := json.Unmarshal(b, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Fatalf("body %q is not the error shape (%v)", b, err)
	}
	return e
}

func TestHealthAndReady(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	resp, body := do(t, "GET", srv.URL+"/health", "", nil)
	if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"status":"ok"}` {
		t.Fatalf("/health = %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "GET", srv.URL+"/ready", "", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("/ready = %d %s", resp.StatusCode, body)
	}
	// Database down: ready says why (to a token), health does not care.
	srv.DB.Close()
	resp, body = do(t, "GET", srv.URL+"/ready", "Bearer "+apptest.Bearer, nil)
	if resp.StatusCode != 503 || !strings.Contains(string(body), "database") {
		t.Fatalf("/ready with database closed = %d %s", resp.StatusCode, body)
	}
	if resp, _ := do(t, "GET", srv.URL+"/health", "", nil); resp.StatusCode != 200 {
		t.Fatalf("/health with database closed = %d", resp.StatusCode)
	}
}

func TestNotFoundAndMethodNotAllowedShareTheErrorShape(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	resp, body := do(t, "GET", srv.URL+"/no/such/route", "", nil)
	if resp.StatusCode != 404 || decodeError(t, body).Error.Code != "not_found" {
		t.Fatalf("404 = %d %s", resp.StatusCode, body)
	}
	resp, body = do(t, "DELETE", srv.URL+"/health", "", nil)
	if resp.StatusCode != 405 || decodeError(t, body).Error.Code != "method_not_allowed" {
		t.Fatalf("405 = %d %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("Content-Type = %q", ct)
	}
}

func TestSecurityHeadersAndRequestID(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	req, _ := http.NewRequest("GET", srv.URL+"/health", nil)
	req.Header.Set("X-Request-ID", "bad id with spaces;drop")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "no-referrer"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
	if id := resp.Header.Get("X-Request-ID"); len(id) != 16 {
		t.Errorf("X-Request-ID = %q, want a fresh 16-hex id instead of the unsafe one", id)
	}
	req.Header.Set("X-Request-ID", "lb-abc-123")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if id := resp.Header.Get("X-Request-ID"); id != "lb-abc-123" {
		t.Errorf("X-Request-ID = %q, want the plain incoming id kept", id)
	}
}

func TestBearerAnswers(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	tests := []struct {
		name, header string
		status       int
		message      string
	}{
		{"valid", "Bearer " + apptest.Bearer, 200, ""},
		{"missing", "", 401, "Missing Bearer token"},
		{"no scheme", apptest.Bearer, 401, "Missing Bearer token"},
		{"other scheme", "Basic " + apptest.Bearer, 401, "Missing Bearer token"},
		{"wrong", "Bearer nope", 401, "Invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, "GET", srv.URL+"/api/whoami", tt.header, nil)
			if resp.StatusCode != tt.status {
				t.Fatalf("status = %d, want %d (%s)", resp.StatusCode, tt.status, body)
			}
			if tt.status == 401 {
				if got := decodeError(t, body).Error.Message; got != tt.message {
					t.Fatalf("message = %q, want %q", got, tt.message)
				}
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Fatal("no WWW-Authenticate header")
				}
				if strings.Contains(string(body), apptest.Bearer) {
					t.Fatal("token echoed in the body")
				}
			}
		})
	}
}

func TestRotationAcceptsBothTokens(t *testing.T) {
	srv := apptest.New(t, apptest.Options{Env: map[string]string{"INTERNAL_API_BEARER": apptest.Bearer + "," + apptest.BearerNext}})
	for tok, name := range map[string]string{apptest.Bearer: "primary", apptest.BearerNext: "next"} {
		resp, body := do(t, "GET", srv.URL+"/api/whoami", "Bearer "+tok, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), name) {
			t.Fatalf("token %s: %d %s", name, resp.StatusCode, body)
		}
	}
}
