package httpapi_test

import "testing"

// TestAPIRefusesAmbiguousJSON: through the real router, a body with a
// repeated key or a case-folded field name is 400, and nothing is stored.
func TestAPIRefusesAmbiguousJSON(t *testing.T) {
	a := newOpAPI(t, nil, nil)
	for body, msg := range map[string]string{
		`{"name":"Alice","phoneNumber":"+15555550101","phoneNumber":"+15555550199"}`: `duplicate field "phoneNumber"`,
		`{"name":"Alice","PhoneNumber":"+15555550101"}`:                              `unknown field "PhoneNumber"`,
	} {
		resp, b := a.call("POST", "/api/contacts", body, nil)
		if resp.StatusCode != 400 || decodeError(t, b).Error.Message != msg {
			t.Fatalf("%s = %d %s, want 400 %s", body, resp.StatusCode, b, msg)
		}
	}
	if n := count(t, a.srv.DB, "contacts"); n != 0 {
		t.Fatalf("%d contacts stored", n)
	}
}
