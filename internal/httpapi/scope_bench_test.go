package httpapi_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
)

// BenchmarkWhoami measures one authenticated /api request through the
// whole router (rate limit, bearer check, scope, handler) without the
// network: with the admin token and with a scoped token (cache hit).
func BenchmarkWhoami(b *testing.B) {
	srv := apptest.New(b, apptest.Options{Env: map[string]string{"API_REQUESTS_PER_MINUTE": "1000000"}})
	_, scoped, err := srv.Tokens.Create(context.Background(), "bench", "bench", []apitoken.Scope{apitoken.CallsRead}, 0)
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct{ name, token string }{{"admin", apptest.Bearer}, {"scoped", scoped}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				req := httptest.NewRequest("GET", "/api/whoami", nil)
				req.Header.Set("Authorization", "Bearer "+tc.token)
				w := httptest.NewRecorder()
				srv.Server.ServeHTTP(w, req)
				if w.Code != 200 {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}
