package httpapi_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nyaruka/phonenumbers"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// TestOperatorDialGuard: the operator API's dial routes refuse the
// service's own numbers, deny prefixes, high-cost ranges and other
// countries with 403, audit each refusal, and dial nothing.
func TestOperatorDialGuard(t *testing.T) {
	db := storetest.SQLite(t)
	a := newOpAPI(t, db, map[string]string{"TWILIO_PHONE_NUMBER": "+15555550199", "DIAL_DENY_LIST": "+1555555016*"})
	seedCall(t, db, callerSID, callerNumber)
	intl := phonenumbers.Format(phonenumbers.GetExampleNumberForNonGeoEntity(882), phonenumbers.E164)
	de := phonenumbers.Format(phonenumbers.GetExampleNumberForType("DE", phonenumbers.FIXED_LINE), phonenumbers.E164)
	for _, target := range []string{"+15555550199", outboundNumber, "+15555550161", "+19005550101", intl, de} {
		for _, path := range []string{"/api/conference/add", "/api/conference/forward"} {
			body := `{"conferenceName":"` + confName + `","targetNumber":"` + target + `"}`
			if strings.HasSuffix(path, "forward") {
				body = `{"callSid":"` + callerSID + `","targetNumber":"` + target + `"}`
			}
			resp, b := a.call("POST", path, body, nil)
			if resp.StatusCode != 403 || decodeError(t, b).Error.Code != "forbidden" {
				t.Fatalf("%s to %s = %d %s, want 403", path, target, resp.StatusCode, b)
			}
		}
	}
	if reqs := a.tw.Requests(); len(reqs) != 0 {
		t.Fatalf("Twilio was asked to dial: %+v", reqs)
	}
	a.srv.Audit.Flush(context.Background())
	evs, err := db.Audit().ListAuditEvents(context.Background(), audit.Filter{Type: audit.TypeConferenceAction, Until: time.Now().Add(time.Hour), Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	refused := 0
	for _, ev := range evs {
		if ev.Detail["action"] == "dial_refused" {
			refused++
		}
	}
	if refused != 12 {
		t.Fatalf("dial_refused audit rows = %d, want 12", refused)
	}
	// An ordinary number in the allowed country still dials.
	resp, b := a.call("POST", "/api/conference/forward", `{"callSid":"`+callerSID+`","targetNumber":"`+targetNumber+`"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("forward to an allowed number = %d %s", resp.StatusCode, b)
	}
}

// TestOperatorDialImpossibleNumber: a target the numbering plan cannot
// hold (a digit short, a digit long, an unassigned country code) is a bad
// request (400 invalid), not dialled and not a 403.
func TestOperatorDialImpossibleNumber(t *testing.T) {
	db := storetest.SQLite(t)
	a := newOpAPI(t, db, map[string]string{"DIAL_ALLOWED_COUNTRIES": "*"})
	for _, target := range []string{"+1415555012", "+141555501230", "+999123456789"} {
		resp, b := a.call("POST", "/api/conference/add", `{"conferenceName":"`+confName+`","targetNumber":"`+target+`"}`, nil)
		if resp.StatusCode != 400 || decodeError(t, b).Error.Code != "invalid" {
			t.Errorf("add %s = %d %s, want 400 invalid", target, resp.StatusCode, b)
		}
	}
	if reqs := a.tw.Requests(); len(reqs) != 0 {
		t.Fatalf("Twilio was asked to dial: %+v", reqs)
	}
}

// TestOperatorDialGuardRefusesAssignedNumbers: a number assigned to an
// agent (PUT /api/numbers) is a service number like TWILIO_PHONE_NUMBER;
// dialling it from a call (the operator API or the agent's tools, one
// gate) would loop the service into itself. 403, nothing dialled; once
// unassigned it dials again.
func TestOperatorDialGuardRefusesAssignedNumbers(t *testing.T) {
	db := storetest.SQLite(t)
	a := newOpAPI(t, db, nil)
	seedCall(t, db, callerSID, callerNumber)
	if resp, b := a.call("PUT", "/api/numbers/"+strings.ReplaceAll(targetNumber, "+", "%2B"), `{"agentId":"default"}`, nil); resp.StatusCode != 201 {
		t.Fatalf("PUT number = %d %s", resp.StatusCode, b)
	}
	for _, path := range []string{"/api/conference/add", "/api/conference/forward"} {
		body := `{"conferenceName":"` + confName + `","targetNumber":"` + targetNumber + `"}`
		if strings.HasSuffix(path, "forward") {
			body = `{"callSid":"` + callerSID + `","targetNumber":"` + targetNumber + `"}`
		}
		resp, b := a.call("POST", path, body, nil)
		if resp.StatusCode != 403 || decodeError(t, b).Error.Code != "forbidden" {
			t.Fatalf("%s to an assigned number = %d %s, want 403", path, resp.StatusCode, b)
		}
	}
	if reqs := a.tw.Requests(); len(reqs) != 0 {
		t.Fatalf("Twilio was asked to dial: %+v", reqs)
	}
	if resp, b := a.call("DELETE", "/api/numbers/"+strings.ReplaceAll(targetNumber, "+", "%2B"), "", nil); resp.StatusCode != 204 {
		t.Fatalf("DELETE number = %d %s", resp.StatusCode, b)
	}
	resp, b := a.call("POST", "/api/conference/forward", `{"callSid":"`+callerSID+`","targetNumber":"`+targetNumber+`"}`, nil)
	if resp.StatusCode != 200 {
		t.Fatalf("forward once unassigned = %d %s", resp.StatusCode, b)
	}
}
