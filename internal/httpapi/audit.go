package httpapi

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
)

// AuditLister lists stored audit events (store.AuditStore).
type AuditLister interface {
	ListAuditEvents(ctx context.Context, f audit.Filter) ([]audit.Event, error)
}

// Audit listing limits.
const (
	auditDefaultLimit = 100
	auditMaxLimit     = 500
)

var auditTypePattern = regexp.MustCompile(`^[a-z][a-z_-]{0,63}$`)

type auditPage struct {
	Events     []audit.Event `json:"events"`
	NextCursor string        `json:"nextCursor,omitempty"`
}

// handleAuditList is GET /api/audit?type=&since=&until=&limit=&cursor=:
// audit events newest first (IPs stored masked, never a token), with a
// cursor for the next page. since/until are RFC 3339 times; since is
// inclusive, until exclusive.
func (s *Server) handleAuditList(w http.ResponseWriter, r *http.Request) {
	q, err := queryParams(r)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	f, err := auditFilter(q, time.Now())
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	evs, err := s.AuditLog.ListAuditEvents(r.Context(), f)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	page := auditPage{Events: evs}
	if page.Events == nil {
		page.Events = []audit.Event{}
	}
	if len(evs) == f.Limit {
		page.NextCursor = encodeAuditCursor(evs[len(evs)-1].ID)
	}
	writeJSON(w, http.StatusOK, page)
}

// auditFilter parses and checks the listing's query parameters.
func auditFilter(q url.Values, now time.Time) (audit.Filter, error) {
	if err := onlyParams(q, "type", "since", "until", "limit", "cursor"); err != nil {
		return audit.Filter{}, err
	}
	f := audit.Filter{Type: q.Get("type"), Since: time.UnixMilli(0), Until: now.Add(time.Hour)}
	if f.Type != "" && !auditTypePattern.MatchString(f.Type) {
		return f, apperr.New(apperr.Invalid, "type must be an audit event type such as authentication_failure")
	}
	var err error
	if v := q.Get("since"); v != "" {
		if f.Since, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return f, apperr.New(apperr.Invalid, "since must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
		}
	}
	if v := q.Get("until"); v != "" {
		if f.Until, err = time.Parse(time.RFC3339Nano, v); err != nil {
			return f, apperr.New(apperr.Invalid, "until must be an RFC 3339 time, e.g. 2026-01-02T15:04:05Z")
		}
	}
	if !f.Until.After(f.Since) {
		return f, apperr.New(apperr.Invalid, "until must be after since")
	}
	if f.Limit, err = limitParam(q, auditDefaultLimit, auditMaxLimit); err != nil {
		return f, err
	}
	if c := q.Get("cursor"); c != "" {
		if f.BeforeID, err = decodeAuditCursor(c); err != nil {
			return f, err
		}
	}
	return f, nil
}

// The audit cursor is the last listed event's ID, base64url-encoded so
// clients treat it as opaque.
func encodeAuditCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte("a" + strconv.FormatInt(id, 10)))
}

func decodeAuditCursor(s string) (int64, error) {
	bad := apperr.New(apperr.Invalid, "cursor is not one this server returned")
	if len(s) > 32 {
		return 0, bad
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 2 || b[0] != 'a' {
		return 0, bad
	}
	id, err := strconv.ParseInt(string(b[1:]), 10, 64)
	if err != nil || id <= 0 {
		return 0, bad
	}
	return id, nil
}
