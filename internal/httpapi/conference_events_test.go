package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

const eventsConfSID = "CF0123456789abcdef0123456789abcdef"

// postEvent sends a signed conference callback (sign=false: unsigned).
func (a *opAPI) postEvent(params url.Values, idem string, sign bool) (*http.Response, []byte) {
	a.t.Helper()
	req, err := fake.SignedRequest(context.Background(), "POST", a.srv.URL, apptest.PublicURL, "/conference/events", apptest.AuthToken, params)
	if err != nil {
		a.t.Fatal(err)
	}
	if !sign {
		req.Header.Del("X-Twilio-Signature")
	}
	if idem != "" {
		req.Header.Set("I-Twilio-Idempotency-Token", idem)
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

func confEvent(seq int, event, callSID string) url.Values {
	v := url.Values{
		"ConferenceSid": {eventsConfSID}, "FriendlyName": {confName}, "AccountSid": {apptest.AccountSID},
		"SequenceNumber": {strconv.Itoa(seq)}, "StatusCallbackEvent": {event}, "Timestamp": {"Tue, 02 Jan 2024 15:04:05 +0000"},
	}
	if callSID != "" {
		v.Set("CallSid", callSID)
		v.Set("Muted", "false")
	}
	return v
}

func TestConferenceEventsWebhook(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := newOpAPI(t, db, nil)
		seedCall(t, db, callerSID, callerNumber)
		if resp, b := a.call("POST", "/api/conference/add", `{"conferenceName":"`+confName+`","targetNumber":"`+targetNumber+`"}`, nil); resp.StatusCode != 200 {
			t.Fatalf("add: %d %s", resp.StatusCode, b)
		}
		// Out of order, with retries (same token) and duplicates (same sequence).
		for _, e := range []struct {
			params url.Values
			idem   string
		}{
			{confEvent(3, "participant-leave", callerSID), "t3"},
			{confEvent(1, "conference-start", ""), "t1"},
			{confEvent(2, "participant-join", callerSID), "t2"},
			{confEvent(2, "participant-join", callerSID), "t2"},   // retry
			{confEvent(3, "participant-leave", callerSID), "t3b"}, // same sequence, new token
			{confEvent(9, "participant-join", callerSID), "t2"},   // same token
		} {
			if resp, b := a.postEvent(e.params, e.idem, true); resp.StatusCode != 204 {
				t.Fatalf("event %v = %d %s", e.params.Get("SequenceNumber"), resp.StatusCode, b)
			}
		}
		if n := count(t, db, "conference_events"); n != 3 {
			t.Fatalf("stored events = %d, want 3", n)
		}
		resp, body := a.call("GET", "/api/conference/"+confName, "", nil)
		var got struct {
			Status       string `json:"status"`
			Participants []struct {
				CallSID string `json:"callSid"`
				Status  string `json:"status"`
			} `json:"participants"`
			Events []struct {
				SequenceNumber int `json:"sequenceNumber"`
			} `json:"events"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil {
			t.Fatalf("get = %d %s", resp.StatusCode, body)
		}
		if got.Status != "in-progress" || len(got.Events) != 3 || got.Events[0].SequenceNumber != 1 {
			t.Fatalf("conference = %s", body)
		}
		callerSeen := false
		for _, p := range got.Participants {
			if p.CallSID == callerSID {
				callerSeen = true
				if p.Status != "left" {
					t.Fatalf("caller status = %q, want left (join arrived late)", p.Status)
				}
			}
		}
		if !callerSeen {
			t.Fatalf("caller participant missing: %s", body)
		}

		// Unsigned, badly signed and malformed callbacks store nothing.
		if resp, _ := a.postEvent(confEvent(5, "conference-end", ""), "", false); resp.StatusCode != 401 {
			t.Fatalf("unsigned = %d", resp.StatusCode)
		}
		bad := confEvent(6, "conference-end", "")
		bad.Set("SequenceNumber", "six")
		if resp, _ := a.postEvent(bad, "", true); resp.StatusCode != 400 {
			t.Fatalf("malformed = %d", resp.StatusCode)
		}
		if n := count(t, db, "conference_events"); n != 3 {
			t.Fatalf("stored events = %d after refusals", n)
		}
		if resp, _ := a.postEvent(confEvent(7, "conference-end", ""), "t7", true); resp.StatusCode != 204 {
			t.Fatalf("end = %d", resp.StatusCode)
		}
		if _, body := a.call("GET", "/api/conference/"+confName, "", nil); !json.Valid(body) || !contains(body, `"status":"completed"`) {
			t.Fatalf("after conference-end: %s", body)
		}
	})
}

func contains(b []byte, s string) bool { return strings.Contains(string(b), s) }

// TestConferenceLookupBeforeTwilio: without Twilio (or an outbound number)
// an unknown conference or call is still 404; only a real one is 503.
func TestConferenceLookupBeforeTwilio(t *testing.T) {
	for _, env := range []map[string]string{
		{"TWILIO_ACCOUNT_SID": ""},
		{"TWILIO_ACCOUNT_SID": "", "TWILIO_OUTBOUND_NUMBER": ""},
	} {
		db := storetest.SQLite(t)
		a := newOpAPI(t, db, env)
		seedCall(t, db, callerSID, callerNumber)
		mustExec(t, db, `INSERT INTO conferences (name, caller_call_sid, created_at, updated_at) VALUES ($1, $2, 1, 1)`, confName, callerSID)
		unknownSID := "CAffffffffffffffffffffffffffffffff"
		unknown := "conf_" + unknownSID
		for _, tc := range []struct {
			path, body string
			want       int
		}{
			{"/api/conference/end", `{"conferenceName":"` + unknown + `"}`, 404},
			{"/api/conference/add", `{"conferenceName":"` + unknown + `","targetNumber":"` + targetNumber + `"}`, 404},
			{"/api/conference/forward", `{"callSid":"` + unknownSID + `","targetNumber":"` + targetNumber + `"}`, 404},
			{"/api/conference/end", `{"conferenceName":"` + confName + `"}`, 503},
			{"/api/conference/add", `{"conferenceName":"` + confName + `","targetNumber":"` + targetNumber + `"}`, 503},
			{"/api/conference/forward", `{"callSid":"` + callerSID + `","targetNumber":"` + targetNumber + `"}`, 503},
		} {
			resp, body := a.call("POST", tc.path, tc.body, nil)
			if resp.StatusCode != tc.want {
				t.Fatalf("%v: %s %s = %d %s, want %d", env, tc.path, tc.body, resp.StatusCode, body, tc.want)
			}
			decodeError(t, body)
		}
		if n := len(a.tw.Requests()); n != 0 {
			t.Fatalf("%d REST calls made without Twilio configured", n)
		}
	}
}
