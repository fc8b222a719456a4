package httpapi_test

import (
	"net/http"
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
	routed := map[string]bool{}
	router, ok := srv.Server.Router().(chi.Routes)
	if !ok {
		t.Fatal("server router is not a chi router")
	}
	err = chi.Walk(router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.ReplaceAll(route, "/*/", "/")
		route = strings.TrimSuffix(route, "/*")
		if method == http.MethodHead || method == http.MethodOptions || route == "" {
			return nil
		}
		routed[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra []string
	for r := range routed {
		if !described[r] {
			missing = append(missing, r)
		}
	}
	for r := range described {
		if !routed[r] {
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
