package audit

import (
	"sync"
	"time"
)

// The authentication-failure pattern check: more than AlertThreshold
// failures within AlertWindow raise one security_alert; another can only
// follow once a full window has passed since the last one.
const (
	AlertThreshold = 10
	AlertWindow    = 15 * time.Minute
)

// AlertAuthLockout is the Detail "alert" value of the security alert the
// per-IP bearer lockout records.
const AlertAuthLockout = "auth_lockout"

// authBurst remembers the times of the last AlertThreshold+1 failures:
// more than AlertThreshold happened within the window exactly when the
// oldest of them is inside it.
type authBurst struct {
	mu        sync.Mutex
	times     [AlertThreshold + 1]time.Time
	next      int
	seen      int
	lastAlert time.Time
}

// note records one failure at t and reports whether it completes a burst
// that should raise an alert.
func (b *authBurst) note(t time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.times[b.next] = t
	b.next = (b.next + 1) % len(b.times)
	if b.seen < len(b.times) {
		b.seen++
		if b.seen < len(b.times) {
			return false
		}
	}
	oldest := b.times[b.next] // the slot written next is the oldest kept
	if t.Sub(oldest) > AlertWindow {
		return false
	}
	if !b.lastAlert.IsZero() && t.Sub(b.lastAlert) < AlertWindow {
		return false
	}
	b.lastAlert = t
	return true
}

// alerted records that an authentication alert was raised at t by other
// code, so the same burst does not raise a second one.
func (b *authBurst) alerted(t time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if t.After(b.lastAlert) {
		b.lastAlert = t
	}
}

// noteAlert counts a security alert recorded by other code and, when it
// is about authentication, starts the burst check's quiet window.
func (r *Recorder) noteAlert(ev Event) {
	r.raised(ev)
	if ev.Detail["alert"] == AlertAuthLockout {
		r.burst.alerted(ev.Time)
	}
}

// checkAuthBurst raises the security alert when ev completes a burst: an
// audit event, a log warning and the metric.
func (r *Recorder) checkAuthBurst(ev Event) {
	if !r.burst.note(ev.Time) {
		return
	}
	surface, _ := ev.Detail["surface"].(string)
	r.log.Warn("security alert: authentication failures burst",
		"event", TypeSecurityAlert, "failures", AlertThreshold+1, "window", AlertWindow.String(), "surface", surface, "remote_ip", ev.RemoteIP)
	alert := Event{ // the IP is already masked
		Type:     TypeSecurityAlert,
		Severity: Warning,
		Actor:    "audit",
		RemoteIP: ev.RemoteIP,
		Time:     ev.Time,
		Detail: map[string]any{
			"pattern":       "authentication_failures",
			"threshold":     AlertThreshold,
			"windowMinutes": int(AlertWindow / time.Minute),
			"lastSurface":   surface,
		},
	}
	r.raised(alert)
	r.enqueue(alert)
}

// raised counts a security alert and hands it to the alert sink.
func (r *Recorder) raised(ev Event) {
	if r.alerts != nil {
		r.alerts.Inc()
	}
	if r.alertSink != nil {
		r.alertSink(ev)
	}
}
