package relay

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/logging"
	"github.com/voiceagent/voiceagent/internal/metrics"
	"github.com/voiceagent/voiceagent/internal/voice"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// harness runs a Relay behind a bare WebSocket endpoint (the HTTP layer's
// authentication is tested in httpapi) against a fake Realtime server,
// with recording stand-ins for the services the relay calls.
type harness struct {
	t     *testing.T
	rt    *fake.Realtime
	relay *Relay
	srv   *httptest.Server
	cfg   *config.Config

	tel    *recTelephony
	dir    *memDirectory
	deny   *memDenyList
	calls  *recCalls
	events *recEvents
	audit  *recAudit
	lines  *recTranscripts
	stats  *recStats
}

type harnessOpts struct {
	rt  fake.RealtimeOptions
	env map[string]string
	// realtimeURL overrides the fake's URL (e.g. an unreachable one).
	realtimeURL string
	// log receives the relay's log lines (default: discarded).
	log *slog.Logger
	// bus, when set, also receives every live event (as /logs viewers
	// would).
	bus *events.Bus
}

// tee publishes to several publishers.
type tee []events.Publisher

func (t tee) Publish(ev events.Event) {
	for _, p := range t {
		p.Publish(ev)
	}
}

func newHarness(t *testing.T, o harnessOpts) *harness {
	t.Helper()
	h := &harness{t: t, rt: fake.NewRealtime(o.rt)}
	t.Cleanup(h.rt.Close)
	url := h.rt.URL()
	if o.realtimeURL != "" {
		url = o.realtimeURL
	}
	env := map[string]string{
		"OPENAI_API_KEY": "sk-test-not-a-real-key",
		"REALTIME_URL":   url,
		"AGENT_GREETING": "Greet the caller.",
		"TOOL_TIMEOUT":   "2s",
	}
	for k, v := range o.env {
		env[k] = v
	}
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	h.cfg = cfg
	h.tel = &recTelephony{}
	h.dir = &memDirectory{contacts: map[string]Contact{}}
	h.deny = &memDenyList{}
	h.calls = &recCalls{}
	h.events = &recEvents{}
	h.audit = &recAudit{}
	h.lines = &recTranscripts{}
	h.stats = &recStats{lines: h.lines}
	log := o.log
	if log == nil {
		log = logging.Discard()
	}
	var pub events.Publisher = h.events
	if o.bus != nil {
		pub = tee{h.events, o.bus}
	}
	h.relay = New(Deps{
		Config: cfg, Log: log, Metrics: metrics.New(nil),
		Audit: h.audit, Events: pub, Calls: h.calls, Transcripts: h.lines, StatsStore: h.stats,
		Directory: h.dir, Telephony: h.tel, DenyList: h.deny,
	})
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		callSID := strings.TrimPrefix(r.URL.Path, "/stream/")
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		h.relay.Serve(conn, callSID, "203.0.113.7")
	}))
	t.Cleanup(func() {
		h.relay.Close()
		h.srv.Close()
	})
	return h
}

// dial opens a fake Twilio stream for callSID (a fresh one when empty).
func (h *harness) dial(o fake.MediaOptions) *fake.MediaClient {
	h.t.Helper()
	if o.CallSid == "" {
		o.CallSid = fake.NewSid("CA")
	}
	url := "ws" + strings.TrimPrefix(h.srv.URL, "http") + "/stream/" + o.CallSid
	c, err := fake.DialMedia(ctx(h.t), url, o)
	if err != nil {
		h.t.Fatalf("dial media: %v", err)
	}
	h.t.Cleanup(c.Drop)
	return c
}

// session returns the n-th model session (1-based).
func (h *harness) session(n int) *fake.RealtimeSession {
	h.t.Helper()
	s, err := h.rt.WaitSession(ctx(h.t), n)
	if err != nil {
		h.t.Fatalf("model session %d never connected: %v", n, err)
	}
	return s
}

func ctx(t testing.TB) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	t.Cleanup(cancel)
	return c
}

// waitFor fails the test when cond never holds.
func waitFor(t testing.TB, what string, wait func(context.Context, func() bool) error, cond func() bool) {
	t.Helper()
	if err := wait(ctx(t), cond); err != nil {
		t.Fatalf("timed out waiting for %s", what)
	}
}

// waitTrue polls cond for state the fakes do not signal (relay internals).
func waitTrue(t testing.TB, what string, cond func() bool) {
	t.Helper()
	c := ctx(t)
	tk := time.NewTicker(5 * time.Millisecond)
	defer tk.Stop()
	for !cond() {
		select {
		case <-c.Done():
			t.Fatalf("timed out waiting for %s", what)
		case <-tk.C:
		}
	}
}

type recTelephony struct {
	mu       sync.Mutex
	added    []string // callSID + " " + number
	forwards []string
	ended    []string
	said     []string
	err      error
	block    chan struct{} // when set, AddToConference waits for it
}

func (r *recTelephony) AddToConference(ctx context.Context, callSID, number string) error {
	r.mu.Lock()
	block, err := r.block, r.err
	r.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.added = append(r.added, callSID+" "+number)
	return err
}

func (r *recTelephony) Forward(_ context.Context, callSID, number string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.forwards = append(r.forwards, callSID+" "+number)
	return r.err
}

func (r *recTelephony) EndCall(_ context.Context, callSID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ended = append(r.ended, callSID)
	return nil
}

func (r *recTelephony) SayAndHangup(_ context.Context, callSID, message string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.said = append(r.said, callSID+" "+message)
	return nil
}

func (r *recTelephony) snapshot() (added, forwards, ended, said []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.added...), append([]string(nil), r.forwards...),
		append([]string(nil), r.ended...), append([]string(nil), r.said...)
}

type memDirectory struct {
	mu       sync.Mutex
	contacts map[string]Contact // lower-case name -> contact
}

func (d *memDirectory) add(name, number string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.contacts[strings.ToLower(name)] = Contact{Name: name, PhoneNumber: number}
}

func (d *memDirectory) FindContact(_ context.Context, q string) (Contact, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.contacts[strings.ToLower(q)]; ok {
		return c, nil
	}
	return Contact{}, apperr.New(apperr.NotFound, "contact not found")
}

func (d *memDirectory) ContactByNumber(_ context.Context, n string) (Contact, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.contacts {
		if c.PhoneNumber == n {
			return c, nil
		}
	}
	return Contact{}, apperr.New(apperr.NotFound, "contact not found")
}

type memDenyList struct {
	mu      sync.Mutex
	numbers []string
}

func (d *memDenyList) Blocked(_ context.Context, n string) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, x := range d.numbers {
		if x == n {
			return true, nil
		}
	}
	return false, nil
}

type recCalls struct {
	mu       sync.Mutex
	started  []string
	ended    map[string]string          // the relay's close reason (voice.CallEnd.Detail)
	recorded map[string]voice.EndReason // the end reason reported
	ending   map[string]voice.EndReason // EndingCall before a Twilio hang-up
}

func (r *recCalls) MarkStreamStarted(_ context.Context, callSID string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.started = append(r.started, callSID)
	return nil
}

func (r *recCalls) EndCall(_ context.Context, e voice.CallEnd) (voice.EndResult, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ended == nil {
		r.ended, r.recorded = map[string]string{}, map[string]voice.EndReason{}
	}
	r.recorded[e.CallSID] = e.Reason
	r.ended[e.CallSID] = e.Detail
	return voice.EndResult{Ended: true}, nil
}

func (r *recCalls) EndingCall(_ context.Context, e voice.CallEnd) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ending == nil {
		r.ending = map[string]voice.EndReason{}
	}
	r.ending[e.CallSID] = e.Reason
	return nil
}

// recordedReason is the end reason reported for the call, and the one
// reported before a Twilio hang-up ("" for none).
func (r *recCalls) recordedReason(callSID string) (recorded, ending voice.EndReason) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.recorded[callSID], r.ending[callSID]
}

func (r *recCalls) endReason(callSID string) (string, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	why, ok := r.ended[callSID]
	return why, ok
}

type recEvents struct {
	mu  sync.Mutex
	evs []events.Event
}

func (r *recEvents) Publish(ev events.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
}

func (r *recEvents) ofType(typ string) []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []events.Event
	for _, ev := range r.evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

type recAudit struct {
	mu  sync.Mutex
	evs []audit.Event
}

func (r *recAudit) Record(ev audit.Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.evs = append(r.evs, ev)
}

func (r *recAudit) ofType(typ string) []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []audit.Event
	for _, ev := range r.evs {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}

type recTranscripts struct {
	mu    sync.Mutex
	lines []TranscriptLine
}

func (r *recTranscripts) InsertTranscripts(_ context.Context, lines []TranscriptLine) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, lines...)
	return nil
}

func (r *recTranscripts) all() []TranscriptLine {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]TranscriptLine(nil), r.lines...)
}
