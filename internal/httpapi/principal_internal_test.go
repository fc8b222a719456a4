package httpapi

import (
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/voiceagent/voiceagent/internal/apitoken"
)

// TestPrincipalIsReadOneWay: what bearer auth stores is what principalOf
// and actor read back, and a request that passed no bearer auth has no
// operator.
func TestPrincipalIsReadOneWay(t *testing.T) {
	r := httptest.NewRequest("GET", "/api/whoami", nil)
	if p := principalOf(r.Context()); p.name != "" || p.scopes != nil {
		t.Fatalf("before auth: %+v", p)
	}
	want := principal{name: "ops-bot", scopes: []apitoken.Scope{apitoken.CallsRead}}
	r = r.WithContext(withPrincipal(r.Context(), want))
	if got := principalOf(r.Context()); got.name != want.name || !slices.Equal(got.scopes, want.scopes) {
		t.Fatalf("principalOf = %+v, want %+v", got, want)
	}
	if got := actor(r); got != "api:ops-bot" {
		t.Fatalf("actor = %q", got)
	}
}
