package httpapi

import (
	"context"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/panics"
)

// readContained runs a /logs viewer's reader goroutine: a panic is logged
// (redacted, no stack in production) and audited, and the viewer's socket
// closes (read's own deferred close of done runs first), instead of the
// process ending.
func (v *viewer) readContained() {
	defer func() {
		if r := recover(); r != nil {
			v.s.panicked("logs_viewer_reader", r)
		}
	}()
	v.read()
}

// drainContained runs one drainer in its shutdown goroutine: a panic is
// logged and audited (where: drain) and the drain goes on with the others,
// instead of ending the process while live calls are being drained.
func (s *Server) drainContained(ctx context.Context, d func(context.Context)) {
	defer func() {
		if r := recover(); r != nil {
			s.panicked("drain", r)
		}
	}()
	d(ctx)
}

// panicked reports a panic a server goroutine contained.
func (s *Server) panicked(where string, v any) {
	panics.Log(s.log, "panic contained", "httpapi", v, !s.cfg.Production, "where", where)
	s.Audit.Record(audit.Event{Type: audit.TypeError, Severity: audit.Warning, Actor: "httpapi",
		Detail: map[string]any{"source": "panic", "where": where, "message": panics.Message(v)}})
}
