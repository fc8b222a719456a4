package httpapi_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

// TestDashboardIsStaticWithAStrictCSP: the page and its assets are served
// with a policy that allows only same-origin scripts, styles and
// connections, and the page holds no inline script, style or handler.
func TestDashboardIsStaticWithAStrictCSP(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	resp, body := do(t, "GET", srv.URL+"/dashboard", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("/dashboard = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Fatalf("CSP %q allows inline code", csp)
	}
	page := string(body)
	if m := regexp.MustCompile(`(?is)<script[^>]*>\s*[^<\s]`).FindString(page); m != "" {
		t.Fatalf("inline script in the page: %q", m)
	}
	if m := regexp.MustCompile(`(?i)\s(on[a-z]+|style)\s*=`).FindString(page); m != "" {
		t.Fatalf("inline handler or style attribute: %q", m)
	}
	if strings.Contains(page, "<style") {
		t.Fatal("inline <style> element")
	}

	for path, ctype := range map[string]string{
		"/dashboard/app.js":      "text/javascript",
		"/dashboard/style.css":   "text/css",
		"/dashboard/favicon.svg": "image/svg+xml",
	} {
		resp, body := do(t, "GET", srv.URL+path, "", nil)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("%s = %d %q", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s without nosniff", path)
		}
	}
	js := func() string { _, b := do(t, "GET", srv.URL+"/dashboard/app.js", "", nil); return string(b) }()
	for _, banned := range []string{"innerHTML", "localStorage", "sessionStorage", "document.cookie", "eval("} {
		if strings.Contains(js, banned) {
			t.Errorf("app.js uses %s", banned)
		}
	}
	for _, path := range []string{"/dashboard/index.html", "/dashboard/embed.go", "/dashboard/..%2fserver.go", "/dashboard/app.js.map"} {
		if resp, _ := do(t, "GET", srv.URL+path, "", nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("%s = %d, want 404", path, resp.StatusCode)
		}
	}
	// Other routes keep the locked-down default policy.
	resp, _ = do(t, "GET", srv.URL+"/health", "", nil)
	if got := resp.Header.Get("Content-Security-Policy"); got != "default-src 'none'; frame-ancestors 'none'" {
		t.Fatalf("/health CSP = %q", got)
	}
}
