package httpapi

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/calllog"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// CallLister lists call history and reads one call's details
// (store.CallListStore).
type CallLister interface {
	calllog.Store
	calllog.DetailStore
}

type callsPage struct {
	Calls      []calllog.Summary `json:"calls"`
	NextCursor string            `json:"nextCursor,omitempty"`
}

// handleCallsList is GET
// /api/calls?status=&direction=&agentId=&since=&until=&limit=&cursor=:
// calls newest first, with a cursor for the next page. Numbers are masked
// unless LOGS_SHOW_NUMBERS=true.
func (s *Server) handleCallsList(w http.ResponseWriter, r *http.Request) {
	if s.CallList == nil {
		s.writeError(w, r, apperr.New(apperr.Unavailable, "call listing is not configured"))
		return
	}
	f, err := callFilter(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	calls, err := s.CallList.ListCalls(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := callsPage{Calls: calls}
	if page.Calls == nil {
		page.Calls = []calllog.Summary{}
	}
	if !s.cfg.LogsShowNumbers {
		for i := range page.Calls {
			page.Calls[i].From = redact.Phone(page.Calls[i].From)
			page.Calls[i].To = redact.Phone(page.Calls[i].To)
		}
	}
	if len(calls) == f.Limit {
		last := calls[len(calls)-1]
		page.NextCursor = encodeCallCursor(calllog.Cursor{CreatedAt: last.CreatedAt, CallSID: last.CallSID})
	}
	writeJSON(w, http.StatusOK, page)
}

// callFilter parses and checks the listing's query parameters: since
// (inclusive) and until (exclusive) are RFC 3339 times of the call's
// arrival.
func callFilter(r *http.Request) (calllog.Filter, error) {
	q, err := queryParams(r)
	if err != nil {
		return calllog.Filter{}, err
	}
	if err := onlyParams(q, "status", "direction", "agentId", "since", "until", "limit", "cursor"); err != nil {
		return calllog.Filter{}, err
	}
	f := calllog.Filter{Status: q.Get("status"), Direction: q.Get("direction"), AgentID: q.Get("agentId")}
	for _, p := range []struct {
		name string
		dst  *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		v := q.Get(p.name)
		if v == "" {
			continue
		}
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil || t.Year() < 1970 || t.Year() > 9999 {
			return f, apperr.Errorf(apperr.Invalid, "%s must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z", p.name)
		}
		*p.dst = t
	}
	if f.Limit, err = limitParam(q, calllog.DefaultLimit, calllog.MaxLimit); err != nil {
		return f, err
	}
	if c := q.Get("cursor"); c != "" {
		if f.After, err = decodeCallCursor(c); err != nil {
			return f, err
		}
	}
	return f, f.Validate()
}

// handleCallDetail is GET /api/calls/{callSid}: one call's whole story
// (calllog.Detail), numbers masked unless LOGS_SHOW_NUMBERS=true.
func (s *Server) handleCallDetail(w http.ResponseWriter, r *http.Request) {
	if s.CallList == nil {
		s.writeError(w, r, apperr.New(apperr.Unavailable, "call details are not configured"))
		return
	}
	d, err := calllog.GetDetail(r.Context(), s.CallList, chi.URLParam(r, "callSid"), s.cfg.LogsShowNumbers)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

// encodeCallCursor makes an opaque cursor: "<unix ms>.<CallSid>" in
// base64url.
func encodeCallCursor(c calllog.Cursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.CreatedAt.UnixMilli(), 10) + "." + c.CallSID))
}

func decodeCallCursor(s string) (*calllog.Cursor, error) {
	bad := apperr.New(apperr.Invalid, "cursor is not one this server returned")
	if len(s) > 128 {
		return nil, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, bad
	}
	ms, sid, ok := strings.Cut(string(b), ".")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || err != nil || n <= 0 || !callSIDPattern.MatchString(sid) {
		return nil, bad
	}
	return &calllog.Cursor{CreatedAt: time.UnixMilli(n).UTC(), CallSID: sid}, nil
}

// queryParams parses the query string strictly: a malformed one is a 400
// (url.Values.Query would silently drop the bad pairs).
func queryParams(r *http.Request) (url.Values, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "malformed query string")
	}
	return q, nil
}

// onlyParams refuses query parameters a route does not know, so a typo
// (or a token pasted into a URL) is an error instead of being ignored.
func onlyParams(q url.Values, known ...string) error {
	for k, v := range q {
		ok := false
		for _, n := range known {
			ok = ok || k == n
		}
		if !ok {
			return apperr.Errorf(apperr.Invalid, "unknown query parameter %q", redact.Text(truncate(k, 32)))
		}
		if len(v) > 1 {
			return apperr.Errorf(apperr.Invalid, "query parameter %q given more than once", k)
		}
	}
	return nil
}

// limitParam reads ?limit= (def when absent) and checks 1..max.
func limitParam(q url.Values, def, max int) (int, error) {
	v := q.Get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, apperr.Errorf(apperr.Invalid, "limit must be a whole number between 1 and %d", max)
	}
	return n, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
