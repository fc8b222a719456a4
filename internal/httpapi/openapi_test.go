package httpapi_test

import (
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/api"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

// TestOpenAPIMatchesRouter walks the real router and the document both
// ways: every route must be described, and every described route must
// exist. METRICS_ADDR stays unset so /metrics is on the main router.
func TestOpenAPIMatchesRouter(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	spec(t)
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			described[method+" "+path] = true
		}
	}
	// Routes by path, with the methods served; a route registered for
	// every method (HandleFunc) counts as described when the document has
	// at least one operation for it.
	routed := map[string]map[string]bool{}
	router, ok := srv.Server.Router().(chi.Routes)
	if !ok {
		t.Fatal("server router is not a chi router")
	}
	err = chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.ReplaceAll(route, "/*/", "/")
		route = strings.TrimSuffix(route, "/*")
		route = chiRegexp.ReplaceAllString(route, "{$1}") // {list:a|b} -> {list}
		if route == "" {
			return nil
		}
		if routed[route] == nil {
			routed[route] = map[string]bool{}
		}
		routed[route][method] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for path, methods := range routed {
		anyMethod := methods[http.MethodConnect] && methods[http.MethodTrace]
		if anyMethod {
			if !describedPath(described, path) {
				missing = append(missing, "(any method) "+path)
			}
			continue
		}
		for m := range methods {
			if m == http.MethodHead || m == http.MethodOptions {
				continue
			}
			if !described[m+" "+path] {
				missing = append(missing, m+" "+path)
			}
		}
	}
	for r := range described {
		m, path, _ := strings.Cut(r, " ")
		if !routed[path][m] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	for _, r := range missing {
		t.Errorf("route %s is served but missing from api/openapi.yaml: add it under paths", r)
	}
	for _, r := range extra {
		t.Errorf("api/openapi.yaml describes %s but the router has no such route", r)
	}
}

func TestOpenAPIServedPublicly(t *testing.T) {
	a := newOpAPI(t, nil, nil)
	resp, body := a.call("GET", "/api/openapi.yaml", "", map[string]string{"Authorization": ""})
	if resp.StatusCode != 200 || !strings.HasPrefix(string(body), "openapi: 3") {
		t.Fatalf("GET /api/openapi.yaml = %d %.40q", resp.StatusCode, body)
	}
	if string(body) != string(api.OpenAPI) {
		t.Fatal("served document differs from the embedded one")
	}
}

// chiRegexp matches a chi path parameter with a pattern.
var chiRegexp = regexp.MustCompile(`\{([^}:]+):[^}]*\}`)

func describedPath(described map[string]bool, path string) bool {
	for r := range described {
		if strings.HasSuffix(r, " "+path) {
			return true
		}
	}
	return false
}
