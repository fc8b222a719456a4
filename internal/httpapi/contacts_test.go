package httpapi_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/contacts"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

type contactOut struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	PhoneNumber string   `json:"phoneNumber"`
	Aliases     []string `json:"aliases"`
	Note        string   `json:"note"`
}

func TestContactsAPI(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := newOpAPI(t, db, nil)
		resp, body := a.call("GET", "/api/contacts", "", nil)
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != "[]" {
			t.Fatalf("empty list = %d %s", resp.StatusCode, body)
		}
		resp, body = a.call("POST", "/api/contacts", `{"name":"Alice Example","phoneNumber":"+15555550101","aliases":["Ali"],"note":"sales"}`, nil)
		if resp.StatusCode != 201 {
			t.Fatalf("create = %d %s", resp.StatusCode, body)
		}
		var alice contactOut
		if err := json.Unmarshal(body, &alice); err != nil || alice.ID == "" || alice.Name != "Alice Example" || len(alice.Aliases) != 1 {
			t.Fatalf("created = %s (%v)", body, err)
		}
		if loc := resp.Header.Get("Location"); loc != "/api/contacts/"+alice.ID {
			t.Fatalf("Location = %q", loc)
		}
		// Duplicate name, case-insensitively, against the stored set: 409.
		resp, body = a.call("POST", "/api/contacts", `{"name":"ALICE example","phoneNumber":"+15555550102"}`, nil)
		if resp.StatusCode != 409 || decodeError(t, body).Error.Code != "conflict" {
			t.Fatalf("duplicate = %d %s", resp.StatusCode, body)
		}
		resp, body = a.call("GET", "/api/contacts/"+alice.ID, "", nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Alice Example") {
			t.Fatalf("get = %d %s", resp.StatusCode, body)
		}
		resp, body = a.call("PUT", "/api/contacts/"+alice.ID, `{"name":"Alice Example","phoneNumber":"+15555550109","aliases":[],"note":""}`, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "+15555550109") {
			t.Fatalf("update = %d %s", resp.StatusCode, body)
		}
		// Replace-all keeps carried ids and assigns new ones.
		set := fmt.Sprintf(`[{"id":%q,"name":"Alice Example","phoneNumber":"+15555550101"},{"name":"Bob Example","phoneNumber":"+15555550103","aliases":["Bobby"]}]`, alice.ID)
		resp, body = a.call("PUT", "/api/contacts", set, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("replace = %d %s", resp.StatusCode, body)
		}
		var list []contactOut
		if err := json.Unmarshal(body, &list); err != nil || len(list) != 2 || list[0].ID != alice.ID || list[1].ID == "" {
			t.Fatalf("replaced = %s", body)
		}
		resp, _ = a.call("DELETE", "/api/contacts/"+list[1].ID, "", nil)
		if resp.StatusCode != 204 {
			t.Fatalf("delete = %d", resp.StatusCode)
		}
		resp, body = a.call("GET", "/api/contacts/"+list[1].ID, "", nil)
		if resp.StatusCode != 404 || decodeError(t, body).Error.Code != "not_found" {
			t.Fatalf("get deleted = %d %s", resp.StatusCode, body)
		}
		if n := count(t, db, "contacts"); n != 1 {
			t.Fatalf("contacts = %d, want 1", n)
		}
	})
}

// TestContactsBadInput: every bad request is a 4xx in the error shape and
// leaves the stored set as it was.
func TestContactsBadInput(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := newOpAPI(t, db, nil)
		resp, body := a.call("PUT", "/api/contacts", `[{"name":"Keep Me","phoneNumber":"+15555550101"}]`, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("seed = %d %s", resp.StatusCode, body)
		}
		var seeded []contactOut
		if err := json.Unmarshal(body, &seeded); err != nil || len(seeded) != 1 {
			t.Fatalf("seed = %s (%v)", body, err)
		}
		keep := seeded[0]
		big := `[{"name":"x","phoneNumber":"+15555550101","note":"` + strings.Repeat("a", 11<<20) + `"}]`
		tooMany := "[" + strings.TrimSuffix(strings.Repeat(`{"name":"n","phoneNumber":"+15555550101"},`, 10001), ",") + "]"
		tests := []struct {
			name, method, path, body string
			hdr                      map[string]string
			status                   int
			code                     string
		}{
			{"bad E.164", "POST", "/api/contacts", `{"name":"A","phoneNumber":"5550101"}`, nil, 400, "invalid"},
			// Strict E.164: no plus is refused, never rewritten to "+5555550142".
			{"no plus on create", "POST", "/api/contacts", `{"name":"A","phoneNumber":"5555550142"}`, nil, 400, "invalid"},
			{"no plus on update", "PUT", "/api/contacts/" + keep.ID, `{"name":"Keep Me","phoneNumber":"5555550142"}`, nil, 400, "invalid"},
			{"no plus in set", "PUT", "/api/contacts", `[{"name":"Keep Me","phoneNumber":"5555550142"}]`, nil, 400, "invalid"},
			{"separators", "POST", "/api/contacts", `{"name":"A","phoneNumber":"+1 555-555-0142"}`, nil, 400, "invalid"},
			{"letters in number", "POST", "/api/contacts", `{"name":"A","phoneNumber":"+1555CALLME"}`, nil, 400, "invalid"},
			{"empty name", "POST", "/api/contacts", `{"name":"  ","phoneNumber":"+15555550101"}`, nil, 400, "invalid"},
			{"long name", "POST", "/api/contacts", `{"name":"` + strings.Repeat("n", 101) + `","phoneNumber":"+15555550101"}`, nil, 400, "invalid"},
			{"control char", "POST", "/api/contacts", `{"name":"A\u0007","phoneNumber":"+15555550101"}`, nil, 400, "invalid"},
			{"unknown field", "POST", "/api/contacts", `{"name":"A","phoneNumber":"+15555550101","admin":true}`, nil, 400, "invalid"},
			{"id on create", "POST", "/api/contacts", `{"id":"ct_0000000000000001","name":"A","phoneNumber":"+15555550101"}`, nil, 400, "invalid"},
			{"malformed", "POST", "/api/contacts", `{"name":`, nil, 400, "invalid"},
			{"wrong type", "POST", "/api/contacts", `{"name":5,"phoneNumber":"+15555550101"}`, nil, 400, "invalid"},
			{"wrong content type", "POST", "/api/contacts", `{"name":"A","phoneNumber":"+15555550101"}`, map[string]string{"Content-Type": "text/plain"}, 415, "unsupported_media_type"},
			{"11 MB body", "PUT", "/api/contacts", big, nil, 413, "too_large"},
			{"duplicate names in set", "PUT", "/api/contacts", `[{"name":"Bob","phoneNumber":"+15555550101"},{"name":"BOB","phoneNumber":"+15555550102"}]`, nil, 400, "invalid"},
			{"one bad in set", "PUT", "/api/contacts", `[{"name":"Bob","phoneNumber":"+15555550101"},{"name":"Carol","phoneNumber":"nope"}]`, nil, 400, "invalid"},
			{"object not array", "PUT", "/api/contacts", `{"name":"Bob","phoneNumber":"+15555550101"}`, nil, 400, "invalid"},
			{"null set", "PUT", "/api/contacts", `null`, nil, 400, "invalid"},
			{"over 10000", "PUT", "/api/contacts", tooMany, nil, 400, "invalid"},
			{"unknown id", "GET", "/api/contacts/ct_0000000000000000", "", nil, 404, "not_found"},
			{"junk id", "DELETE", "/api/contacts/..%2F..%2Fetc", "", nil, 404, "not_found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				resp, body := a.call(tt.method, tt.path, tt.body, tt.hdr)
				if resp.StatusCode != tt.status {
					t.Fatalf("status = %d, want %d (%.200s)", resp.StatusCode, tt.status, body)
				}
				if got := decodeError(t, body).Error.Code; got != tt.code {
					t.Fatalf("code = %q, want %q", got, tt.code)
				}
				_, body = a.call("GET", "/api/contacts", "", nil)
				var list []contactOut
				if err := json.Unmarshal(body, &list); err != nil || len(list) != 1 || list[0].Name != "Keep Me" || list[0].PhoneNumber != "+15555550101" {
					t.Fatalf("stored set changed: %s", body)
				}
			})
		}
	})
}

// TestContactRulesAreTheServices holds the API to the contacts service's
// rules, checked once, there: whatever Contact.Validate accepts after
// normalising, the API accepts, and its refusals carry the service's
// message. (A second set of DTO rules in the handler once refused names
// and alias lists that normalise to valid ones.)
func TestContactRulesAreTheServices(t *testing.T) {
	a := newOpAPI(t, nil, nil)
	aliases := `"Al"` + strings.Repeat(`,"al"`, contacts.MaxAliases) // repeats collapse to one
	for _, c := range []struct {
		body string
		want int
		msg  string
	}{
		{`{"name":"A` + strings.Repeat(" ", 400) + `Example","phoneNumber":"+15555550111"}`, 201, ""},
		{`{"name":"Al Example","phoneNumber":"+15555550112","aliases":[` + aliases + `]}`, 201, ""},
		{`{"phoneNumber":"+15555550113"}`, 400, fmt.Sprintf("name must be 1 to %d characters", contacts.MaxNameLen)},
		{`{"name":"   ","phoneNumber":"+15555550113"}`, 400, fmt.Sprintf("name must be 1 to %d characters", contacts.MaxNameLen)},
		{`{"name":"Bo Example"}`, 400, "phoneNumber must be an E.164 number such as +15551234567"},
	} {
		resp, body := a.call("POST", "/api/contacts", c.body, nil)
		if resp.StatusCode != c.want {
			t.Errorf("%.60s: %d %s, want %d", c.body, resp.StatusCode, body, c.want)
			continue
		}
		if c.msg != "" {
			if got := decodeError(t, body).Error.Message; got != c.msg {
				t.Errorf("%.60s: message %q, want %q", c.body, got, c.msg)
			}
		}
	}
	// Replace-all names the contact at fault with the same rule.
	resp, body := a.call("PUT", "/api/contacts", `[{"name":"Cy Example","phoneNumber":"+15555550114"},{"name":"","phoneNumber":"+15555550115"}]`, nil)
	if want := fmt.Sprintf("contact 1: name must be 1 to %d characters", contacts.MaxNameLen); resp.StatusCode != 400 || decodeError(t, body).Error.Message != want {
		t.Fatalf("replace-all = %d %s, want 400 %q", resp.StatusCode, body, want)
	}
}
