package scenario

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
)

// ensureContact creates the scenario's contact through the operator API
// (a conflict means it is already there).
func ensureContact(ctx context.Context, t sim.Target, name, number string) error {
	body, _ := json.Marshal(map[string]any{"name": name, "phoneNumber": number})
	code, resp, err := t.API(ctx, http.MethodPost, "/api/contacts", strings.NewReader(string(body)))
	if err != nil {
		return fmt.Errorf("create contact: %w", err)
	}
	if code != http.StatusCreated && code != http.StatusOK && code != http.StatusConflict {
		return fmt.Errorf("create contact: HTTP %d: %.200s", code, resp)
	}
	return nil
}

func runCallContact(ctx context.Context, e *Env, r *Result) error {
	if e.REST == nil {
		return skip("needs the fake Twilio REST API (run without --url): a real one cannot dial the example numbers")
	}
	if err := ensureContact(ctx, e.Target, sim.ContactName, sim.ContactNumber); err != nil {
		return err
	}
	lc, err := answer(ctx, e, r, "+15555550113")
	if err != nil {
		return err
	}
	defer lc.cleanup(ctx, e)
	if _, err := lc.greeted(ctx); err != nil {
		return err
	}
	// "Please call Alice": the model looks her up, then dials her in.
	lc.sess.NextResponseCallsTool("lookup_contact", `{"name":"`+sim.ContactName+`"}`)
	lc.sess.NextResponseCallsTool("add_to_conference", `{"contact_name":"`+sim.ContactName+`"}`)
	lc.t.say(25)
	if err := lc.sess.WaitFor(ctx, func() bool { return len(lc.sess.FunctionOutputs()) >= 2 }); err != nil {
		return fmt.Errorf("tools not answered (%d outputs): %w", len(lc.sess.FunctionOutputs()), err)
	}
	outs := lc.sess.FunctionOutputs()
	if !strings.Contains(outs[0].Output, sim.ContactName) {
		return fmt.Errorf("lookup_contact answered %.120q, want the contact", outs[0].Output)
	}
	if strings.Contains(strings.ToLower(outs[1].Output), "error") {
		return fmt.Errorf("add_to_conference answered %.160q", outs[1].Output)
	}
	detail, err := checkConference(ctx, e.REST, lc.a.CallSID())
	if err != nil {
		return err
	}
	if err := lc.hangUp(ctx, e); err != nil {
		return err
	}
	r.Detail = detail
	return nil
}

// checkConference asserts the fake Twilio REST API saw the caller's call
// updated into conf_<CallSid> and the contact dialled into it.
func checkConference(ctx context.Context, rest *fake.TwilioREST, callSID string) (string, error) {
	conf := "conf_" + callSID
	parts, err := rest.WaitRequests(ctx, fake.OpCreateParticipant, 1)
	if err != nil {
		return "", fmt.Errorf("contact never dialled: %w", err)
	}
	var dialled *fake.RESTRequest
	for i := range parts {
		if strings.Contains(parts[i].Path, "/Conferences/"+conf+"/") || strings.Contains(parts[i].Path, "/Conferences/CF") {
			dialled = &parts[i]
		}
	}
	if dialled == nil {
		return "", fmt.Errorf("participant created in another conference (%s)", parts[len(parts)-1].Path)
	}
	if got := dialled.Form.Get("To"); got != sim.ContactNumber {
		return "", fmt.Errorf("participant To = %q, want the contact's number", got)
	}
	if got := dialled.Form.Get("From"); got != sim.OutboundNumber {
		return "", fmt.Errorf("participant From = %q, want TWILIO_OUTBOUND_NUMBER", got)
	}
	var moved bool
	for _, u := range rest.Requests(fake.OpUpdateCall) {
		if !strings.Contains(u.Path, callSID) {
			continue
		}
		var doc struct {
			Dial []struct {
				Conference []string `xml:"Conference"`
			} `xml:"Dial"`
		}
		if xml.Unmarshal([]byte(u.Form.Get("Twiml")), &doc) != nil {
			continue
		}
		for _, d := range doc.Dial {
			for _, c := range d.Conference {
				moved = moved || strings.TrimSpace(c) == conf
			}
		}
	}
	if !moved {
		return "", errors.New("the caller's call was never updated into its conference")
	}
	return "caller moved into conf_<CallSid>; contact dialled from the outbound number", nil
}
