package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/voiceagent/voiceagent/api"
	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

// pathSamples fill path parameters for requests built from the document.
var pathSamples = map[string]string{
	"{id}":          "ct_0123456789abcdef",
	"{name}":        "conf_CA0123456789abcdef0123456789abcdef",
	"{phoneNumber}": "%2B15555550100",
	"{list}":        "blocked",
	"{number}":      "%2B15555550100",
}

// newToken makes a scoped token directly through the service.
func newToken(t *testing.T, a *opAPI, name string, scopes ...apitoken.Scope) string {
	t.Helper()
	_, secret, err := a.srv.Tokens.Create(context.Background(), "test", name, scopes, 0)
	if err != nil {
		t.Fatal(err)
	}
	return secret
}

// raw sends one request with the bearer token and returns status and body;
// answers that are not the expected success are checked against the spec.
func raw(t *testing.T, a *opAPI, method, path, token string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 403 || resp.StatusCode == 401 {
		checkSpec(t, req, resp, b)
	}
	return resp, b
}

func lacksScope(b []byte, scope string) bool {
	var e errorShape
	return json.Unmarshal(b, &e) == nil && e.Error.Code == "forbidden" && e.Error.Message == "token lacks scope "+scope
}

// TestScopesMatchOpenAPI holds routes.go and api/openapi.yaml together:
// for every operation the document says needs a bearer scope, a token
// with every other scope gets 403 "token lacks scope <scope>", and a token
// with only that scope gets past the check. Operations open to any token
// accept a token with one unrelated scope. Every /api route but the
// document itself must name a bearer requirement.
func TestScopesMatchOpenAPI(t *testing.T) {
	a := newOpAPI(t, nil, map[string]string{"API_REQUESTS_PER_MINUTE": "10000"})
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	tokens := map[string]string{}
	for _, sc := range apitoken.All {
		if sc == apitoken.Admin {
			continue
		}
		var others []apitoken.Scope
		for _, o := range apitoken.All {
			if o != sc && o != apitoken.Admin {
				others = append(others, o)
			}
		}
		name := strings.ReplaceAll(string(sc), ":", "-")
		tokens["only "+string(sc)] = newToken(t, a, "only-"+name, sc)
		tokens["all but "+string(sc)] = newToken(t, a, "allbut-"+name, others...)
	}
	tokens["only admin"] = newToken(t, a, "only-admin", apitoken.Admin)
	var allButAdmin []apitoken.Scope
	for _, o := range apitoken.All {
		if o != apitoken.Admin {
			allButAdmin = append(allButAdmin, o)
		}
	}
	tokens["all but admin"] = newToken(t, a, "allbut-admin", allButAdmin...)

	paths := doc.Paths.Map()
	keys := make([]string, 0, len(paths))
	for p := range paths {
		keys = append(keys, p)
	}
	sort.Strings(keys)
	checked := 0
	for _, path := range keys {
		for method, op := range paths[path].Operations() {
			url := path
			for k, v := range pathSamples {
				url = strings.ReplaceAll(url, k, v)
			}
			if path == "/api/tokens/{name}" {
				url = "/api/tokens/no-such-token"
			}
			reqs := op.Security
			if reqs == nil {
				reqs = &doc.Security
			}
			var scopes []string
			bearer, optional := false, false
			for _, req := range *reqs {
				if len(req) == 0 {
					optional = true
				}
				if s, ok := req["bearer"]; ok {
					bearer, scopes = true, s
				}
			}
			if strings.HasPrefix(path, "/api/") && path != "/api/openapi.yaml" && (!bearer || optional) {
				t.Errorf("%s %s: no bearer security requirement in api/openapi.yaml", method, path)
				continue
			}
			if !bearer {
				continue
			}
			if len(scopes) > 1 {
				t.Errorf("%s %s: name one scope, not %v", method, path, scopes)
				continue
			}
			checked++
			if len(scopes) == 0 {
				if resp, b := raw(t, a, method, url, tokens["only audit:read"]); resp.StatusCode == 401 || resp.StatusCode == 403 {
					t.Errorf("%s %s is open to any token in the document, but refused one: %d %s", method, path, resp.StatusCode, b)
				}
				continue
			}
			sc := scopes[0]
			if !slices.Contains(apitoken.All, apitoken.Scope(sc)) {
				t.Errorf("%s %s: unknown scope %q in the document", method, path, sc)
				continue
			}
			if resp, b := raw(t, a, method, url, tokens["all but "+sc]); resp.StatusCode != 403 || !lacksScope(b, sc) {
				t.Errorf("%s %s: a token without %s got %d %s; the document says it needs %s (routes.go disagrees?)", method, path, sc, resp.StatusCode, b, sc)
			}
			for _, tok := range []string{"only " + sc, "only admin"} {
				if resp, b := raw(t, a, method, url, tokens[tok]); resp.StatusCode == 401 || lacksScope(b, sc) || (resp.StatusCode == 403 && strings.Contains(string(b), "lacks scope")) {
					t.Errorf("%s %s: a token with %s was refused: %d %s", method, path, tok, resp.StatusCode, b)
				}
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d bearer operations; the document has more", checked)
	}
	// Refusals are audited with the token's name and scope, never the token.
	if n := auditCount(t, a, "access_denied", `"scope":"contacts:write"`); n < 1 {
		t.Fatalf("access_denied events for contacts:write = %d", n)
	}
}

// TestTokensAPI: admin tokens create, list and revoke scoped tokens over
// HTTP; the secret is shown once; a revoked token stops working at once;
// the example message of the issue.
func TestTokensAPI(t *testing.T) {
	a := newOpAPI(t, nil, nil)
	resp, body := a.call("POST", "/api/tokens", `{"name":"dash","scopes":["calls:read"],"expires":"90d"}`, nil)
	if resp.StatusCode != 201 {
		t.Fatalf("create = %d %s", resp.StatusCode, body)
	}
	var created struct {
		Name, Token string
		Scopes      []string
		ExpiresAt   *string
	}
	if err := json.Unmarshal(body, &created); err != nil || !strings.HasPrefix(created.Token, "va_") || created.ExpiresAt == nil {
		t.Fatalf("create body = %s (%v)", body, err)
	}
	if resp, body := a.call("POST", "/api/tokens", `{"name":"dash","scopes":["admin"]}`, nil); resp.StatusCode != 409 {
		t.Fatalf("duplicate = %d %s", resp.StatusCode, body)
	}
	for _, bad := range []string{`{"name":"primary","scopes":["admin"]}`, `{"name":"x","scopes":["root"]}`, `{"name":"x","scopes":[]}`, `{"name":"x","scopes":["admin"],"expires":"1y"}`} {
		if resp, body := a.call("POST", "/api/tokens", bad, nil); resp.StatusCode != 400 {
			t.Fatalf("%s = %d %s", bad, resp.StatusCode, body)
		}
	}
	// The scoped token: whoami tells its scopes; it reads calls; it cannot
	// write contacts or manage tokens.
	auth := map[string]string{"Authorization": "Bearer " + created.Token}
	if resp, body := a.call("GET", "/api/whoami", "", auth); resp.StatusCode != 200 || !strings.Contains(string(body), `"scopes":["calls:read"]`) {
		t.Fatalf("whoami = %d %s", resp.StatusCode, body)
	}
	if resp, body := a.call("GET", "/api/calls", "", auth); resp.StatusCode != 200 {
		t.Fatalf("calls = %d %s", resp.StatusCode, body)
	}
	resp, body = a.call("POST", "/api/contacts", `{"name":"Alice Example","phoneNumber":"+15555550101"}`, auth)
	if resp.StatusCode != 403 || string(body) != `{"error":{"code":"forbidden","message":"token lacks scope contacts:write"}}`+"\n" {
		t.Fatalf("contacts write = %d %s", resp.StatusCode, body)
	}
	if resp, _ := a.call("GET", "/api/tokens", "", auth); resp.StatusCode != 403 {
		t.Fatalf("token list with calls:read = %d", resp.StatusCode)
	}
	// The list never holds a secret.
	resp, body = a.call("GET", "/api/tokens", "", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"name":"dash"`) || strings.Contains(string(body), created.Token) || strings.Contains(string(body), `"token"`) {
		t.Fatalf("list = %d %s", resp.StatusCode, body)
	}
	if resp, _ := a.call("DELETE", "/api/tokens/dash", "", nil); resp.StatusCode != 204 {
		t.Fatalf("revoke = %d", resp.StatusCode)
	}
	if resp, _ := a.call("DELETE", "/api/tokens/dash", "", nil); resp.StatusCode != 404 {
		t.Fatalf("second revoke = %d", resp.StatusCode)
	}
	if resp, body := a.call("GET", "/api/calls", "", auth); resp.StatusCode != 401 {
		t.Fatalf("revoked token = %d %s", resp.StatusCode, body)
	}
	if n := auditCount(t, a, "api_token_change", `"action":"revoke"`); n != 1 {
		t.Fatalf("revoke audited %d times", n)
	}
	a.srv.Audit.Flush(context.Background())
	var leaked int
	if err := a.srv.DB.SQL.QueryRow(`SELECT COUNT(*) FROM audit_events WHERE detail LIKE $1`, "%"+created.Token+"%").Scan(&leaked); err != nil || leaked != 0 {
		t.Fatalf("token in audit rows: %d %v", leaked, err)
	}
}

// TestReadyDetailsNeedToken: the public /ready says only ok or not; the
// details need a token with metrics:read.
func TestReadyDetailsNeedToken(t *testing.T) {
	a := newOpAPI(t, nil, nil)
	a.srv.Server.Drain(context.Background())
	resp, body := raw(t, a, "GET", "/ready", "")
	if resp.StatusCode != 503 || strings.TrimSpace(string(body)) != `{"status":"unavailable"}` {
		t.Fatalf("public /ready = %d %s", resp.StatusCode, body)
	}
	resp, body = raw(t, a, "GET", "/ready", newToken(t, a, "prom", apitoken.MetricsRead))
	if resp.StatusCode != 503 || !strings.Contains(string(body), `"reason":"draining"`) {
		t.Fatalf("/ready with metrics:read = %d %s", resp.StatusCode, body)
	}
	resp, body = raw(t, a, "GET", "/ready", newToken(t, a, "viewer", apitoken.CallsRead))
	if resp.StatusCode != 403 || !lacksScope(body, "metrics:read") {
		t.Fatalf("/ready with calls:read = %d %s", resp.StatusCode, body)
	}
	if resp, _ := raw(t, a, "GET", "/ready", "wrong"); resp.StatusCode != 401 {
		t.Fatalf("/ready with a wrong token = %d", resp.StatusCode)
	}
	if resp, body := raw(t, a, "GET", "/ready", apptest.Bearer); resp.StatusCode != 503 || !strings.Contains(string(body), "draining") {
		t.Fatalf("/ready with the admin token = %d %s", resp.StatusCode, body)
	}
}
