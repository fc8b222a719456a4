package fake

import (
	"encoding/xml"
	"net/http"
	"strings"
	"time"
)

// serve routes on the Host header and path, records the request and
// answers like Twilio would.
func (f *TwilioREST) serve(w http.ResponseWriter, r *http.Request) {
	_ = r.ParseForm()
	op, parts := route(r, f.Server.Listener.Addr().String())
	user, pass, _ := r.BasicAuth()
	rec := RESTRequest{Op: op, Method: r.Method, Host: r.Host, Path: r.URL.Path, Username: user,
		Form: r.PostForm, Query: r.URL.Query(), Time: time.Now()}
	sw := &statusWriter{ResponseWriter: w}
	defer func() {
		rec.Status = sw.status
		f.mu.Lock()
		f.requests = append(f.requests, rec)
		close(f.changed)
		f.changed = make(chan struct{})
		f.mu.Unlock()
	}()

	if user != f.username || pass != f.password {
		writeRESTError(sw, http.StatusUnauthorized, 20003, "Authenticate")
		return
	}
	if op == "unknown" {
		writeRESTError(sw, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	if op != OpLookup && parts["account"] != f.AccountSID {
		writeRESTError(sw, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	if status, code, ok := f.takeFailure(op); ok {
		writeRESTError(sw, status, code, "scripted failure")
		return
	}
	if op == OpUpdateCall {
		// Real Twilio ends the call's media stream when it applies new
		// TwiML (or a hang-up), often before its REST answer arrives.
		f.mu.Lock()
		hook := f.onCallUpdate
		f.mu.Unlock()
		if hook != nil {
			hook(parts["call"])
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch op {
	case OpUpdateCall:
		f.updateCallLocked(sw, r, parts["call"])
	case OpCreateCall:
		f.createCallLocked(sw, r)
	case OpUpdateConference:
		c := f.conferences[parts["conference"]]
		if c == nil {
			writeRESTError(sw, http.StatusNotFound, 20404, "The requested resource was not found")
			return
		}
		if r.PostForm.Get("Status") == "completed" {
			c.Status = "completed"
		}
		writeRESTJSON(sw, http.StatusOK, confJSON(f.AccountSID, c))
	case OpCreateParticipant:
		c := f.findLocked(parts["conference"])
		if c == nil {
			writeRESTError(sw, http.StatusNotFound, 20404, "The requested resource was not found")
			return
		}
		if r.PostForm.Get("From") == "" || r.PostForm.Get("To") == "" {
			writeRESTError(sw, http.StatusBadRequest, 21604, "A 'To' and a 'From' phone number are required")
			return
		}
		writeRESTJSON(sw, http.StatusCreated, map[string]any{
			"account_sid": f.AccountSID, "call_sid": NewSid("CA"), "conference_sid": c.SID,
			"label": r.PostForm.Get("Label"), "status": "queued", "muted": false, "hold": false,
		})
	case OpDeleteParticipant:
		sw.WriteHeader(http.StatusNoContent)
	case OpListConferences:
		f.listLocked(sw, r)
	case OpLookup:
		num := parts["number"]
		body := map[string]any{"phone_number": num, "valid": true, "caller_name": nil}
		if n, ok := f.names[num]; ok {
			body["caller_name"] = map[string]any{"caller_name": n.Name, "caller_type": n.Type, "error_code": nil}
		}
		writeRESTJSON(sw, http.StatusOK, body)
	}
}

// route names the operation and its path parameters.
// A request for the fake's own address (a client whose API base URL,
// TWILIO_API_BASE_URL, is the fake) is a Voice REST request.
func route(r *http.Request, self string) (string, map[string]string) {
	host := r.Host
	if host == self {
		host = "api.twilio.com"
	}
	if i := strings.IndexByte(host, ':'); i >= 0 {
		host = host[:i]
	}
	seg := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if host == "lookups.twilio.com" {
		if r.Method == http.MethodGet && len(seg) == 3 && seg[0] == "v2" && seg[1] == "PhoneNumbers" {
			return OpLookup, map[string]string{"number": seg[2]}
		}
		return "unknown", nil
	}
	if host != "api.twilio.com" || len(seg) < 4 || seg[0] != "2010-04-01" || seg[1] != "Accounts" {
		return "unknown", nil
	}
	p := map[string]string{"account": seg[2]}
	rest := seg[3:]
	trim := func(s string) string { return strings.TrimSuffix(s, ".json") }
	switch {
	case r.Method == http.MethodPost && len(rest) == 1 && rest[0] == "Calls.json":
		return OpCreateCall, p
	case r.Method == http.MethodPost && len(rest) == 2 && rest[0] == "Calls":
		p["call"] = trim(rest[1])
		return OpUpdateCall, p
	case r.Method == http.MethodGet && len(rest) == 1 && rest[0] == "Conferences.json":
		return OpListConferences, p
	case r.Method == http.MethodPost && len(rest) == 2 && rest[0] == "Conferences":
		p["conference"] = trim(rest[1])
		return OpUpdateConference, p
	case r.Method == http.MethodPost && len(rest) == 3 && rest[0] == "Conferences" && rest[2] == "Participants.json":
		p["conference"] = rest[1]
		return OpCreateParticipant, p
	case r.Method == http.MethodDelete && len(rest) == 4 && rest[0] == "Conferences" && rest[2] == "Participants":
		p["conference"], p["call"] = rest[1], trim(rest[3])
		return OpDeleteParticipant, p
	}
	return "unknown", nil
}

func (f *TwilioREST) takeFailure(op string) (status, code int, ok bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.failures {
		fl := &f.failures[i]
		if fl.op != "" && fl.op != op {
			continue
		}
		if fl.times > 0 {
			fl.times--
			if fl.times == 0 {
				f.failures = append(f.failures[:i], f.failures[i+1:]...)
			}
		}
		return fl.status, fl.code, true
	}
	return 0, 0, false
}

// updateCallLocked hangs up, or runs new TwiML: a <Dial><Conference> puts
// the call into that conference.
func (f *TwilioREST) updateCallLocked(w http.ResponseWriter, r *http.Request, callSID string) {
	if !strings.HasPrefix(callSID, "CA") || len(callSID) != 34 {
		writeRESTError(w, http.StatusNotFound, 20404, "The requested resource was not found")
		return
	}
	if f.ended[callSID] {
		writeRESTError(w, http.StatusBadRequest, 21220, "Call is not in-progress. Cannot redirect.")
		return
	}
	status := "in-progress"
	if s := r.PostForm.Get("Status"); s == "completed" || s == "canceled" {
		f.ended[callSID] = true
		status = "completed"
	}
	if doc := r.PostForm.Get("Twiml"); doc != "" {
		var resp struct {
			Dial []struct {
				Conference []string `xml:"Conference"`
			} `xml:"Dial"`
			Hangup []struct{} `xml:"Hangup"`
		}
		if err := xml.Unmarshal([]byte(doc), &resp); err != nil {
			writeRESTError(w, http.StatusBadRequest, 12100, "Document parse failure")
			return
		}
		for _, d := range resp.Dial {
			for _, name := range d.Conference {
				f.conferenceLocked(strings.TrimSpace(name))
			}
		}
	}
	writeRESTJSON(w, http.StatusOK, map[string]any{"sid": callSID, "account_sid": f.AccountSID, "status": status})
}

// findLocked returns the conference by SID, or by friendly name (created
// when new, like Twilio does for participant creation).
func (f *TwilioREST) findLocked(ref string) *Conference {
	if strings.HasPrefix(ref, "CF") && len(ref) == 34 {
		return f.conferences[ref]
	}
	return f.conferenceLocked(ref)
}

// conferenceLocked returns the live conference with friendlyName, creating
// one when none is live.
func (f *TwilioREST) conferenceLocked(friendlyName string) *Conference {
	for _, c := range f.conferences {
		if c.FriendlyName == friendlyName && c.Status != "completed" {
			return c
		}
	}
	c := &Conference{SID: NewSid("CF"), FriendlyName: friendlyName, Status: "in-progress"}
	f.conferences[c.SID] = c
	return c
}

func (f *TwilioREST) listLocked(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	list := []map[string]any{}
	for _, c := range f.conferences {
		if n := q.Get("FriendlyName"); n != "" && n != c.FriendlyName {
			continue
		}
		if s := q.Get("Status"); s != "" && s != c.Status {
			continue
		}
		list = append(list, confJSON(f.AccountSID, c))
	}
	writeRESTJSON(w, http.StatusOK, map[string]any{
		"conferences": list,
		"meta":        map[string]any{"page": 0, "page_size": 50, "key": "conferences", "next_page_url": nil},
	})
}

func confJSON(account string, c *Conference) map[string]any {
	return map[string]any{"sid": c.SID, "account_sid": account, "friendly_name": c.FriendlyName, "status": c.Status}
}

// statusWriter remembers the status written.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}
