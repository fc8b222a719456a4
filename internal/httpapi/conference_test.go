package httpapi_test

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// twimlDial is the part of the TwiML sent to Twilio the tests check
// (parsed, since attribute order varies).
type twimlDial struct {
	Dial []struct {
		CallerID   string `xml:"callerId,attr"`
		Number     string `xml:",chardata"`
		Conference []struct {
			Name                string `xml:",chardata"`
			StatusCallback      string `xml:"statusCallback,attr"`
			StatusCallbackEvent string `xml:"statusCallbackEvent,attr"`
			EndConferenceOnExit string `xml:"endConferenceOnExit,attr"`
		} `xml:"Conference"`
	} `xml:"Dial"`
}

func parseTwiML(t *testing.T, doc string) twimlDial {
	t.Helper()
	var d twimlDial
	if err := xml.Unmarshal([]byte(doc), &d); err != nil || len(d.Dial) != 1 {
		t.Fatalf("TwiML %q: %v", doc, err)
	}
	return d
}

func TestConferenceAddForwardEnd(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := newOpAPI(t, db, nil)
		seedCall(t, db, callerSID, callerNumber)

		resp, body := a.call("POST", "/api/conference/add", `{"conferenceName":"`+confName+`","targetNumber":"`+targetNumber+`"}`, nil)
		if resp.StatusCode != 200 || strings.TrimSpace(string(body)) != `{"success":true,"message":"Participant added"}` {
			t.Fatalf("add = %d %s", resp.StatusCode, body)
		}
		reqs := a.tw.Requests()
		if len(reqs) != 2 || reqs[0].Op != fake.OpUpdateCall || reqs[1].Op != fake.OpCreateParticipant {
			t.Fatalf("REST calls = %+v", reqs)
		}
		if want := "/2010-04-01/Accounts/" + apptest.AccountSID + "/Calls/" + callerSID + ".json"; reqs[0].Path != want {
			t.Fatalf("update call path = %s, want %s", reqs[0].Path, want)
		}
		move := parseTwiML(t, reqs[0].Form.Get("Twiml"))
		conf := move.Dial[0].Conference
		if len(conf) != 1 || conf[0].Name != confName || conf[0].StatusCallback != apptest.PublicURL+"/conference/events" || conf[0].EndConferenceOnExit != "true" {
			t.Fatalf("caller TwiML = %+v", move)
		}
		if !strings.Contains(conf[0].StatusCallbackEvent, "join") || !strings.Contains(conf[0].StatusCallbackEvent, "end") {
			t.Fatalf("statusCallbackEvent = %q", conf[0].StatusCallbackEvent)
		}
		p := reqs[1]
		if want := "/2010-04-01/Accounts/" + apptest.AccountSID + "/Conferences/" + confName + "/Participants.json"; p.Path != want {
			t.Fatalf("participant path = %s", p.Path)
		}
		if p.Form.Get("From") != outboundNumber || p.Form.Get("To") != targetNumber || p.Form.Get("ConferenceStatusCallback") != apptest.PublicURL+"/conference/events" {
			t.Fatalf("participant form = %v", p.Form)
		}

		// A second add does not move the caller again.
		a.tw.Reset()
		resp, body = a.call("POST", "/api/conference/add", `{"conferenceName":"`+confName+`","targetNumber":"+15555550111"}`, nil)
		if resp.StatusCode != 200 {
			t.Fatalf("second add = %d %s", resp.StatusCode, body)
		}
		if reqs := a.tw.Requests(); len(reqs) != 1 || reqs[0].Op != fake.OpCreateParticipant {
			t.Fatalf("second add REST calls = %+v", reqs)
		}

		resp, body = a.call("GET", "/api/conference/"+confName, "", nil)
		var got struct {
			Status       string `json:"status"`
			CallerJoined bool   `json:"callerJoined"`
			Participants []struct {
				Role        string `json:"role"`
				PhoneNumber string `json:"phoneNumber"`
			} `json:"participants"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(body, &got) != nil || !got.CallerJoined || len(got.Participants) != 3 {
			t.Fatalf("get = %d %s", resp.StatusCode, body)
		}
		if strings.Contains(string(body), "CF") || strings.Contains(string(body), apptest.AccountSID) {
			t.Fatalf("answer holds a Twilio SID: %s", body)
		}

		// End: the CF SID learnt from the participant answer is completed.
		a.tw.Reset()
		resp, body = a.call("POST", "/api/conference/end", `{"conferenceName":"`+confName+`"}`, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Conference ended") {
			t.Fatalf("end = %d %s", resp.StatusCode, body)
		}
		end := a.tw.Requests(fake.OpUpdateConference)
		if len(end) != 1 || end[0].Form.Get("Status") != "completed" || !strings.Contains(end[0].Path, "/Conferences/CF") {
			t.Fatalf("end REST calls = %+v", a.tw.Requests())
		}
		resp, body = a.call("POST", "/api/conference/end", `{"conferenceName":"`+confName+`"}`, nil)
		if resp.StatusCode != 404 {
			t.Fatalf("second end = %d %s", resp.StatusCode, body)
		}

		// Forward by callSid: <Dial callerId=outbound>target</Dial>.
		a.tw.Reset()
		resp, body = a.call("POST", "/api/conference/forward", `{"callSid":"`+callerSID+`","targetNumber":"`+targetNumber+`"}`, nil)
		if resp.StatusCode != 200 || !strings.Contains(string(body), "Call forwarded") {
			t.Fatalf("forward = %d %s", resp.StatusCode, body)
		}
		fw := a.tw.Requests(fake.OpUpdateCall)
		if len(fw) != 1 {
			t.Fatalf("forward REST calls = %+v", a.tw.Requests())
		}
		d := parseTwiML(t, fw[0].Form.Get("Twiml"))
		if d.Dial[0].CallerID != outboundNumber || strings.TrimSpace(d.Dial[0].Number) != targetNumber {
			t.Fatalf("forward TwiML = %+v", d)
		}

		// Every action is audited under the operator who asked (the
		// service takes the actor as a parameter), never as the agent.
		rows := auditRows(t, a.srv, "conference_action")
		if len(rows) < 4 {
			t.Fatalf("conference_action rows = %+v", rows)
		}
		for _, r := range rows {
			if !strings.HasPrefix(r.Actor, "api:") || r.Actor == "api:" {
				t.Fatalf("conference action audited as %q, want the operator's token name", r.Actor)
			}
		}
	})
}

func TestConferenceRefusals(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := newOpAPI(t, db, map[string]string{"CALLER_BLACKLIST": "+15555550666"})
		seedCall(t, db, callerSID, callerNumber)
		ms := time.Now().UnixMilli()
		if _, err := db.SQL.ExecContext(context.Background(), `INSERT INTO caller_lists (list, number, source, created_at) VALUES ('blocked', '+15555550777', 'api', $1)`, ms); err != nil {
			t.Fatal(err)
		}
		add := func(name, target string) string {
			return `{"conferenceName":"` + name + `","targetNumber":"` + target + `"}`
		}
		unknown := "conf_CAffffffffffffffffffffffffffffffff"
		tests := []struct {
			name, path, body string
			hdr              map[string]string
			status           int
			code             string
		}{
			{"bad E.164", "/api/conference/add", add(confName, "555-0100"), nil, 400, "invalid"},
			{"bad conference name", "/api/conference/add", add("conf_CA123", targetNumber), nil, 400, "invalid"},
			{"uppercase hex", "/api/conference/add", add("conf_CA0123456789ABCDEF0123456789ABCDEF", targetNumber), nil, 400, "invalid"},
			{"path in name", "/api/conference/end", `{"conferenceName":"conf_../../Calls"}`, nil, 400, "invalid"},
			{"unknown field", "/api/conference/add", `{"conferenceName":"` + confName + `","targetNumber":"` + targetNumber + `","twiml":"<Hangup/>"}`, nil, 400, "invalid"},
			{"missing target", "/api/conference/add", `{"conferenceName":"` + confName + `"}`, nil, 400, "invalid"},
			{"forward both", "/api/conference/forward", `{"conferenceName":"` + confName + `","callSid":"` + callerSID + `","targetNumber":"` + targetNumber + `"}`, nil, 400, "invalid"},
			{"forward neither", "/api/conference/forward", `{"targetNumber":"` + targetNumber + `"}`, nil, 400, "invalid"},
			{"wrong content type", "/api/conference/add", add(confName, targetNumber), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
			{"11 MB body", "/api/conference/add", `{"conferenceName":"` + strings.Repeat("x", 11<<20) + `"}`, nil, 413, "too_large"},
			{"denied (stored list)", "/api/conference/add", add(confName, "+15555550777"), nil, 403, "forbidden"},
			{"denied (env list)", "/api/conference/forward", `{"callSid":"` + callerSID + `","targetNumber":"+15555550666"}`, nil, 403, "forbidden"},
			{"unknown call", "/api/conference/add", add(unknown, targetNumber), nil, 404, "not_found"},
			{"unknown conference", "/api/conference/end", `{"conferenceName":"` + unknown + `"}`, nil, 404, "not_found"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				a.tw.Reset()
				resp, body := a.call("POST", tt.path, tt.body, tt.hdr)
				if resp.StatusCode != tt.status || decodeError(t, body).Error.Code != tt.code {
					t.Fatalf("= %d %.200s, want %d %s", resp.StatusCode, body, tt.status, tt.code)
				}
				if n := len(a.tw.Requests()); n != 0 {
					t.Fatalf("%d REST calls made for a refused request", n)
				}
				if n := count(t, db, "conferences"); n != 0 {
					t.Fatalf("conferences stored: %d", n)
				}
			})
		}
		resp, body := a.call("GET", "/api/conference/not-a-name", "", nil)
		if resp.StatusCode != 400 {
			t.Fatalf("GET bad name = %d %s", resp.StatusCode, body)
		}
		resp, body = a.call("GET", "/api/conference/"+unknown, "", nil)
		if resp.StatusCode != 404 {
			t.Fatalf("GET unknown = %d %s", resp.StatusCode, body)
		}
	})
}

// TestConferenceTwilioFailure: Twilio's error is logged in full (numbers
// masked) and answered 502 with a generic message.
func TestConferenceTwilioFailure(t *testing.T) {
	logs := &apptest.LogBuffer{}
	tw := fake.NewTwilioREST(apptest.AccountSID, apptest.AccountSID, apptest.AuthToken)
	defer tw.Close()
	db := storetest.SQLite(t)
	a := &opAPI{t: t, tw: tw, srv: apptest.New(t, apptest.Options{DB: db, Logs: logs,
		Env: map[string]string{"TWILIO_OUTBOUND_NUMBER": outboundNumber}, App: appOpts(tw)})}
	seedCall(t, db, callerSID, callerNumber)
	for _, tc := range []struct {
		op, path, body, msg string
		status, code        int
	}{
		{fake.OpUpdateCall, "/api/conference/add", `{"conferenceName":"` + confName + `","targetNumber":"` + targetNumber + `"}`, "Failed to add participant", 500, 20500},
		{fake.OpCreateParticipant, "/api/conference/add", `{"conferenceName":"` + confName + `","targetNumber":"` + targetNumber + `"}`, "Failed to add participant", 429, 20429},
		{fake.OpUpdateCall, "/api/conference/forward", `{"conferenceName":"` + confName + `","targetNumber":"` + targetNumber + `"}`, "Failed to forward call", 500, 21220},
	} {
		tw.Fail(tc.op, tc.status, tc.code, 1)
		resp, body := a.call("POST", tc.path, tc.body, nil)
		e := decodeError(t, body)
		if resp.StatusCode != 502 || e.Error.Message != tc.msg || e.Error.Code != "upstream_error" {
			t.Fatalf("%s with Twilio %d = %d %s", tc.path, tc.status, resp.StatusCode, body)
		}
		if strings.Contains(string(body), "scripted") || strings.Contains(string(body), "twilio.com") {
			t.Fatalf("Twilio detail leaked: %s", body)
		}
	}
	a.srv.Audit.Flush(context.Background())
	out := logs.String()
	if !strings.Contains(out, "20429") || !strings.Contains(out, "twilio call failed") {
		t.Fatalf("Twilio error not logged in full:\n%s", out)
	}
	apptest.AssertNoLeaks(t, "logs", out, a.srv.Config, targetNumber, callerNumber)
}

// Finding 11: a call voiceagent refused (here: the deny list) is not acted
// on, even while Twilio still reports it in progress (the refusal message
// playing): forward and conference answer 409 and nothing reaches Twilio.
func TestConferenceRefusedCall(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		a := newOpAPI(t, db, nil)
		const refusedSID = "CA00000000000000000000000000000b0c"
		ms := time.Now().UnixMilli()
		if _, err := db.SQL.ExecContext(context.Background(), `INSERT INTO calls (call_sid, account_sid, from_number, to_number, decision, reason, status, active, created_at, updated_at)
VALUES ($1, $2, $3, $4, 'reject', 'blacklist', 'in-progress', 0, $5, $5)`, refusedSID, apptest.AccountSID, "+15555550142", "+15005550001", ms); err != nil {
			t.Fatal(err)
		}
		for _, req := range []struct{ path, body string }{
			{"/api/conference/forward", `{"callSid":"` + refusedSID + `","targetNumber":"` + targetNumber + `"}`},
			{"/api/conference/add", `{"conferenceName":"conf_` + refusedSID + `","targetNumber":"` + targetNumber + `"}`},
		} {
			a.tw.Reset()
			resp, body := a.call("POST", req.path, req.body, nil)
			if resp.StatusCode != 409 || decodeError(t, body).Error.Code != "conflict" {
				t.Fatalf("%s on a refused call = %d %.200s, want 409 conflict", req.path, resp.StatusCode, body)
			}
			if n := len(a.tw.Requests()); n != 0 {
				t.Fatalf("%d REST calls made for a refused call", n)
			}
		}
	})
}
