// Package logging builds the process logger: tint text for people in
// development, JSON in production.
package logging

import (
	"io"
	"log/slog"
	"time"

	"github.com/lmittmann/tint"
)

// New returns a logger writing to w in the given format ("text" or "json")
// at the given level ("debug", "info", "warn", "error"). Every record
// passes through the phone-number redaction first (Redacting).
func New(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		lv = slog.LevelInfo
	}
	if format == "json" {
		return slog.New(Redacting(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: lv})))
	}
	return slog.New(Redacting(tint.NewTextHandler(w, &tint.Options{Level: lv, TimeFormat: time.TimeOnly, NoColor: !isTerminal(w)})))
}

// Discard returns a logger that drops everything, for tests that do not
// look at logs.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
