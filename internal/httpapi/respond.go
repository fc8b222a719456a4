package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// errorBody is the one error shape every JSON endpoint answers with.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// statusOf maps an apperr code to its HTTP status. It is the only place
// this mapping is written.
func statusOf(code apperr.Code) int {
	switch code {
	case apperr.Invalid:
		return http.StatusBadRequest
	case apperr.Unauthenticated:
		return http.StatusUnauthorized
	case apperr.Forbidden:
		return http.StatusForbidden
	case apperr.NotFound:
		return http.StatusNotFound
	case apperr.Conflict:
		return http.StatusConflict
	case apperr.TooLarge:
		return http.StatusRequestEntityTooLarge
	case apperr.Unsupported:
		return http.StatusUnsupportedMediaType
	case apperr.RateLimited:
		return http.StatusTooManyRequests
	case apperr.Unavailable:
		return http.StatusServiceUnavailable
	case apperr.Upstream:
		return http.StatusBadGateway
	case apperr.InvalidNumber:
		return http.StatusBadRequest
	case apperr.OwnNumber, apperr.QuietHours:
		return http.StatusUnprocessableEntity
	case apperr.DeniedDestination, apperr.CountryNotAllowed:
		return http.StatusForbidden
	case apperr.AtCapacity:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// writeJSON writes v as JSON with the given status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	enc.Encode(v) //nolint:errcheck // the client went away
}

// writeError answers err in the one error shape. Uncoded errors become
// internal / "internal error"; their cause is logged with the request ID
// and never sent.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := apperr.CodeOf(err)
	status := statusOf(code)
	msg := apperr.MessageOf(err)
	if status >= 500 {
		s.log.ErrorContext(r.Context(), "request failed", "request_id", RequestID(r.Context()), "path", redact.Text(r.URL.Path), "status", status, "err", redact.Text(err.Error()))
	} else {
		s.log.DebugContext(r.Context(), "request refused", "request_id", RequestID(r.Context()), "path", redact.Text(r.URL.Path), "status", status, "code", string(code))
	}
	writeJSON(w, status, errorBody{Error: errorDetail{Code: string(code), Message: msg}})
}

// decodeJSON reads one JSON value into dst: the content type must be JSON,
// the body is size-limited by the middleware, unknown fields, keys that
// match a field only case-insensitively, duplicate keys (strictJSON) and
// trailing data are refused. Errors are apperr values ready for writeError.
func decodeJSON(r *http.Request, dst any) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return apperr.New(apperr.Unsupported, "Content-Type must be application/json")
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return apperr.New(apperr.Unsupported, "Content-Type must be application/json")
	}
	body, err := readStrict(r.Body, dst)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return apperr.New(apperr.Invalid, "request body must hold a single JSON value")
	}
	return nil
}

// jsonError turns a decoding failure into a client-safe message.
func jsonError(err error) error {
	var tooBig *http.MaxBytesError
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &tooBig):
		return apperr.New(apperr.TooLarge, "request body too large")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF):
		return apperr.New(apperr.Invalid, "malformed JSON")
	case errors.As(err, &typ):
		if typ.Field != "" {
			return apperr.Errorf(apperr.Invalid, "field %q has the wrong type", typ.Field)
		}
		return apperr.New(apperr.Invalid, "JSON value has the wrong type")
	case errors.Is(err, io.EOF):
		return apperr.New(apperr.Invalid, "request body is empty")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return apperr.Errorf(apperr.Invalid, "unknown field %s", strings.TrimPrefix(err.Error(), "json: unknown field "))
	default:
		return apperr.New(apperr.Invalid, "malformed JSON")
	}
}

// logAttrs is a small helper for handlers that log with the request ID.
func (s *Server) logger(r *http.Request) *slog.Logger {
	return s.log.With("request_id", RequestID(r.Context()))
}
