package app

import (
	"sync/atomic"

	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/events"
)

// alertForwarder publishes every security alert the audit recorder raises
// as a security.alert live event, so /logs viewers (the dashboard's alert
// panel, which needs only calls:read) see it. The recorder is built
// before the bus (the bus reports its panics to it), so the bus is set
// once it exists; alerts raised before that are only audited.
type alertForwarder struct{ bus atomic.Pointer[events.Bus] }

func (f *alertForwarder) forward(ev audit.Event) {
	b := f.bus.Load()
	if b == nil {
		return
	}
	data := map[string]any{"severity": string(ev.Severity)}
	for _, k := range []string{"pattern", "alert", "lastSurface", "dropped"} {
		if v, ok := ev.Detail[k]; ok {
			data[k] = v
		}
	}
	if ev.RemoteIP != "" {
		data["remoteIp"] = ev.RemoteIP // masked by the recorder
	}
	b.Publish(events.Event{Type: events.SecurityAlert, Time: ev.Time.UTC(), Data: data})
}
