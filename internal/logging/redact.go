package logging

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/voiceagent/voiceagent/internal/redact"
)

// redacting wraps a handler so that no phone number reaches the process
// log in clear, whichever call site forgot to mask one: the message and
// every string, error and Stringer attribute (in groups too) pass through
// redact.Text. Identifiers (request_id, *_sid, *Sid) are left as they are.
type redacting struct{ next slog.Handler }

// Redacting returns h behind the redaction of every record.
func Redacting(h slog.Handler) slog.Handler { return redacting{next: h} }

func (h redacting) Enabled(ctx context.Context, l slog.Level) bool { return h.next.Enabled(ctx, l) }

func (h redacting) Handle(ctx context.Context, r slog.Record) error {
	out := slog.NewRecord(r.Time, r.Level, redact.Text(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool {
		out.AddAttrs(redactAttr(a))
		return true
	})
	return h.next.Handle(ctx, out)
}

func (h redacting) WithAttrs(as []slog.Attr) slog.Handler {
	red := make([]slog.Attr, len(as))
	for i, a := range as {
		red[i] = redactAttr(a)
	}
	return redacting{next: h.next.WithAttrs(red)}
}

func (h redacting) WithGroup(name string) slog.Handler {
	return redacting{next: h.next.WithGroup(name)}
}

// keepKey reports attributes that are identifiers, not free text.
func keepKey(k string) bool {
	return k == "request_id" || strings.HasSuffix(k, "_sid") || strings.HasSuffix(k, "Sid") || k == "stack"
}

func redactAttr(a slog.Attr) slog.Attr {
	if keepKey(a.Key) {
		return a
	}
	v := a.Value.Resolve()
	switch v.Kind() {
	case slog.KindString:
		return slog.String(a.Key, redact.Text(v.String()))
	case slog.KindGroup:
		g := v.Group()
		red := make([]any, len(g))
		for i, x := range g {
			red[i] = redactAttr(x)
		}
		return slog.Group(a.Key, red...)
	case slog.KindAny:
		switch x := v.Any().(type) {
		case error:
			return slog.String(a.Key, redact.Text(x.Error()))
		case fmt.Stringer:
			return slog.String(a.Key, redact.Text(x.String()))
		case map[string]any:
			return slog.Any(a.Key, redact.Data(x))
		case []string:
			red := make([]string, len(x))
			for i, s := range x {
				red[i] = redact.Text(s)
			}
			return slog.Any(a.Key, red)
		}
	}
	return slog.Attr{Key: a.Key, Value: v}
}
