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
	"github.com/voiceagent/voiceagent/internal/voice"
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
	case apperr.MethodNotAllowed:
		return http.StatusMethodNotAllowed
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

// writeError is the one JSON error responder: every error answer outside
// the Twilio webhooks goes through it (TestEveryErrorIsOneShape walks the
// router to hold this). It answers err in the one error shape, its status
// chosen once by statusOf. Uncoded errors become internal / "internal
// error"; their cause is logged with the request ID and never sent.
// Headers that belong to the refusal (Retry-After, WWW-Authenticate) are
// set by the caller before it calls here.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code, status := s.logError(r, err, "request failed", "request refused")
	writeJSON(w, status, errorBody{Error: errorDetail{Code: string(code), Message: apperr.MessageOf(err)}})
}

// writeTwiMLError is writeError for Twilio's webhooks: the same status
// mapping and logging, answered with an empty TwiML document that tells
// Twilio nothing and does nothing.
func (s *Server) writeTwiMLError(w http.ResponseWriter, r *http.Request, err error) {
	_, status := s.logError(r, err, "Twilio webhook failed", "Twilio webhook refused")
	if status == http.StatusRequestEntityTooLarge {
		w.Header().Set("Connection", "close")
	}
	writeTwiML(w, status, voice.EmptyTwiML())
}

// logError maps err to its code and status and logs it: 5xx causes at
// error level with the request ID; refusals at debug level, unless the
// request is a refusal already counted in an aggregated audit row whose
// log line was left out (refusals.go), so a flood writes no line each.
func (s *Server) logError(r *http.Request, err error, failed, refused string) (apperr.Code, int) {
	ctx := r.Context()
	code := apperr.CodeOf(err)
	status := statusOf(code)
	switch {
	case status >= 500:
		s.log.ErrorContext(ctx, failed, "request_id", RequestID(ctx), "path", redact.Text(mediaLogPath(r.URL.Path)), "status", status, "err", redact.Text(err.Error()))
	case s.log.Enabled(ctx, slog.LevelDebug) && !accessQuieted(ctx):
		s.log.DebugContext(ctx, refused, "request_id", RequestID(ctx), "path", redact.Text(mediaLogPath(r.URL.Path)), "status", status, "code", string(code),
			"message", redact.Text(apperr.MessageOf(err)))
	}
	return code, status
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
