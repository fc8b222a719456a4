// Package apperr defines the one error type that services return and the
// HTTP layer maps to a status code. It is a leaf package: it imports nothing
// from the project.
package apperr

import (
	"errors"
	"fmt"
)

// Code classifies an error. The HTTP layer maps each code to one status.
type Code string

// The codes a service may return.
const (
	Invalid         Code = "invalid"
	Unauthenticated Code = "unauthenticated"
	Forbidden       Code = "forbidden"
	NotFound        Code = "not_found"
	// MethodNotAllowed is a known path asked with a method it does not
	// serve (the router's answer, not a service's).
	MethodNotAllowed Code = "method_not_allowed"
	Conflict         Code = "conflict"
	TooLarge         Code = "too_large"
	Unsupported      Code = "unsupported_media_type"
	RateLimited      Code = "rate_limited"
	Unavailable      Code = "unavailable"
	Upstream         Code = "upstream_error"
	Internal         Code = "internal"
)

// Refusals of POST /api/calls (outbound calls), each with its own code so
// a client can tell them apart: the number is no valid number (400), is
// one of the service's own (422), is denied or high-cost (403), is in a
// country not allowed (403), would ring during quiet hours (422), or
// every call slot is taken (503).
const (
	InvalidNumber     Code = "invalid_number"
	OwnNumber         Code = "own_number"
	DeniedDestination Code = "denied_destination"
	CountryNotAllowed Code = "country_not_allowed"
	QuietHours        Code = "quiet_hours"
	AtCapacity        Code = "at_capacity"
)

// Error is an error meant to be shown to a client: Message must never hold
// a secret, a driver message or a stack. Err, when set, is the cause; it is
// logged but never sent.
type Error struct {
	Code    Code
	Message string
	Err     error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an Error with a client-safe message.
func New(code Code, message string) *Error {
	return &Error{Code: code, Message: message}
}

// Errorf returns an Error with a formatted client-safe message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an Error that shows message to the client and keeps err as
// the cause for the log.
func Wrap(err error, code Code, message string) *Error {
	return &Error{Code: code, Message: message, Err: err}
}

// CodeOf returns the code of the first *Error in err's chain, or Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// MessageOf returns the client-safe message of err, or "internal error"
// when err carries no *Error.
func MessageOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// Is reports whether err carries an *Error with the given code.
func Is(err error, code Code) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}
