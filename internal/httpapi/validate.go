package httpapi

import (
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"

	"github.com/go-playground/validator/v10"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/conference"
	"github.com/voiceagent/voiceagent/internal/phone"
)

// newValidator returns the validator for request DTOs: fields are named by
// their JSON names, and the project's own rules are registered as tags
// (phone: E.164; confname: conf_<CallSid>; callsid: CA + 32 hex).
func newValidator() *validator.Validate {
	v := validator.New(validator.WithRequiredStructEnabled())
	v.RegisterTagNameFunc(func(f reflect.StructField) string {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			return ""
		}
		return name
	})
	must := func(err error) {
		if err != nil {
			panic(err) // programming error: a tag registered twice
		}
	}
	must(v.RegisterValidation("phone", func(fl validator.FieldLevel) bool { return phone.Valid(fl.Field().String()) }))
	must(v.RegisterValidation("confname", func(fl validator.FieldLevel) bool {
		_, err := conference.CallSIDOf(fl.Field().String())
		return err == nil
	}))
	must(v.RegisterValidation("callsid", func(fl validator.FieldLevel) bool { return conference.ValidCallSID(fl.Field().String()) }))
	return v
}

// check validates a DTO and returns an apperr.Invalid naming the first
// field at fault, e.g. "targetNumber must be an E.164 number".
func (s *Server) check(dto any) error {
	err := s.validate.Struct(dto)
	if err == nil {
		return nil
	}
	var verrs validator.ValidationErrors
	if !errors.As(err, &verrs) || len(verrs) == 0 {
		return apperr.New(apperr.Invalid, "invalid request body")
	}
	return apperr.New(apperr.Invalid, describe(verrs[0]))
}

// describe turns one validation failure into a client message. It never
// echoes the value.
func describe(fe validator.FieldError) string {
	field := fe.Namespace()
	if i := strings.IndexByte(field, '.'); i >= 0 {
		field = field[i+1:] // drop the struct's Go name
	}
	switch fe.Tag() {
	case "required":
		return field + " is required"
	case "phone":
		return field + " must be an E.164 number such as +15551234567"
	case "confname":
		return field + " must be conf_ followed by a call SID (CA and 32 hex characters)"
	case "callsid":
		return field + " must be CA followed by 32 hex characters"
	case "max":
		return fmt.Sprintf("%s must be at most %s long", field, fe.Param())
	case "min":
		return fmt.Sprintf("%s must be at least %s long", field, fe.Param())
	default:
		return field + " is invalid"
	}
}

// decode reads a request body into dst (strict JSON, size-limited; see
// decodeJSON) for a DTO whose rules its service checks; on failure it has
// written the 400 and reports false.
func (s *Server) decode(w http.ResponseWriter, r *http.Request, dst any) bool {
	if err := decodeJSON(r, dst); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}

// decodeValid is decode followed by the DTO's validation tags (check):
// for request shapes whose rules belong to the transport (conference
// actions, tokens). On failure it has written the 400 and reports false.
func (s *Server) decodeValid(w http.ResponseWriter, r *http.Request, dto any) bool {
	if !s.decode(w, r, dto) {
		return false
	}
	if err := s.check(dto); err != nil {
		s.writeError(w, r, err)
		return false
	}
	return true
}
