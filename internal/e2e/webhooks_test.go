package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	dto "github.com/prometheus/client_model/go"

	"github.com/voiceagent/voiceagent/api"
	"github.com/voiceagent/voiceagent/internal/app"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/poll"
	"github.com/voiceagent/voiceagent/internal/sim"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// hookReceiver is a business's webhook endpoint: it verifies every
// delivery's signature the way the README tells businesses to
// (verifySignature, written from that text) and answers what answer
// says for the nth request (204 when nil).
type hookReceiver struct {
	mu     sync.Mutex
	secret string
	answer func(n int, w http.ResponseWriter) // nil: 204
	got    []hookDelivery
}

type hookDelivery struct {
	delivery, event string // X-Voiceagent-Delivery, X-Voiceagent-Event
	verified        bool
	body            []byte
	env             struct {
		ID        string          `json:"id"`
		Type      string          `json:"type"`
		CreatedAt time.Time       `json:"createdAt"`
		Data      json.RawMessage `json:"data"`
	}
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	h.mu.Lock()
	d := hookDelivery{delivery: r.Header.Get("X-Voiceagent-Delivery"), event: r.Header.Get("X-Voiceagent-Event"), body: body}
	d.verified = verifySignature(h.secret, r.Header.Get("X-Voiceagent-Signature"), body, time.Now())
	_ = json.Unmarshal(body, &d.env)
	h.got = append(h.got, d)
	n, answer := len(h.got), h.answer
	h.mu.Unlock()
	if !d.verified {
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if answer != nil {
		answer(n, w)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// newHookReceiver starts a receiver on loopback, closed with the test.
func newHookReceiver(t *testing.T) (*hookReceiver, *httptest.Server) {
	t.Helper()
	recv := &hookReceiver{}
	srv := httptest.NewServer(recv)
	t.Cleanup(srv.Close)
	return recv, srv
}

func (h *hookReceiver) setSecret(s string) {
	h.mu.Lock()
	h.secret = s
	h.mu.Unlock()
}

func (h *hookReceiver) deliveries() []hookDelivery {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookDelivery(nil), h.got...)
}

func (h *hookReceiver) count(typ string) int {
	n := 0
	for _, d := range h.deliveries() {
		if d.env.Type == typ {
			n++
		}
	}
	return n
}

// testClock is the dispatcher's clock: real time plus an offset the test
// moves forward, so retries fall due without sleeping.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.off)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.off += d
	c.mu.Unlock()
}

// apiCall sends an operator API request to base with the admin token.
func apiCall(ctx context.Context, t *testing.T, base, method, path, body string, want int) []byte {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+apptest.Bearer)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, resp.StatusCode, b, want)
	}
	return b
}

// subscribeHook creates a subscription through the API and hands its
// secret to the receiver; it returns the subscription's id.
func subscribeHook(ctx context.Context, t *testing.T, base, url string, h *hookReceiver, events ...string) string {
	t.Helper()
	ev, _ := json.Marshal(events)
	b := apiCall(ctx, t, base, "POST", "/api/webhooks", `{"url":"`+url+`","events":`+string(ev)+`}`, 201)
	var sub struct{ ID, Secret string }
	if err := json.Unmarshal(b, &sub); err != nil || !strings.HasPrefix(sub.Secret, "whsec_") || !webhooks.ValidID(sub.ID) {
		t.Fatalf("POST /api/webhooks = %s", b)
	}
	if h != nil {
		h.setSecret(sub.Secret)
		t.Cleanup(func() { checkDeliveriesAgainstSpec(t, h.deliveries()) })
	}
	// The secret is shown once: never by a GET.
	for _, p := range []string{"/api/webhooks", "/api/webhooks/" + sub.ID} {
		if got := apiCall(ctx, t, base, "GET", p, "", 200); strings.Contains(string(got), sub.Secret) || strings.Contains(string(got), "secret") {
			t.Fatalf("GET %s shows the secret: %s", p, got)
		}
	}
	return sub.ID
}

type deliveryRow struct {
	ID         string
	Type       string
	State      string
	Attempts   int
	LastStatus int
	LastError  string
}

func deliveryLog(ctx context.Context, t *testing.T, base, id string) []deliveryRow {
	t.Helper()
	var out struct{ Deliveries []deliveryRow }
	if err := json.Unmarshal(apiCall(ctx, t, base, "GET", "/api/webhooks/"+id+"/deliveries", "", 200), &out); err != nil {
		t.Fatal(err)
	}
	return out.Deliveries
}

// outboxEmpty waits until every delivery is done (the outbox is empty).
func outboxEmpty(ctx context.Context, t *testing.T, db *store.DB) {
	t.Helper()
	if err := poll.Until(ctx, func() bool {
		n, _, err := db.Webhooks().OutboxStats(ctx)
		return err == nil && n == 0
	}); err != nil {
		t.Fatalf("the outbox never emptied: %v", err)
	}
}

// TestWebhookCallEndedOnce: a call through the real router and relay;
// a receiver that verifies the signature gets call.started, then
// call.ended exactly once, signed, with the call's detail (transcript
// included, numbers masked) and the event headers.
func TestWebhookCallEndedOnce(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		recv, biz := newHookReceiver(t)
		r := newRig(t, rigOptions{DB: db, Env: map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}})
		ctx := ctxFor(t, 30*time.Second)
		id := subscribeHook(ctx, t, r.srv.URL, biz.URL+"/hooks?key=abc", recv, webhooks.CallStarted, webhooks.CallEnded)

		const caller = "+15555550112"
		c, s := r.streamedCall(ctx, t, caller, sim.ServiceNumber)
		s.CallerTranscript("item_caller_1", "I would like to check my order please")
		if err := poll.Until(ctx, func() bool {
			lines, _ := db.Transcripts().ListTranscripts(ctx, c.CallSid())
			return len(lines) > 0
		}); err != nil {
			t.Fatal("the caller's line was never stored")
		}
		_ = c.Stop()
		if err := poll.Until(ctx, func() bool { return recv.count(webhooks.CallEnded) > 0 }); err != nil {
			t.Fatalf("no call.ended: got %d deliveries", len(recv.deliveries()))
		}
		outboxEmpty(ctx, t, db)
		got := recv.deliveries()
		if len(got) != 2 || got[0].env.Type != webhooks.CallStarted || got[1].env.Type != webhooks.CallEnded {
			t.Fatalf("deliveries = %d, want call.started then call.ended once", len(got))
		}
		for _, d := range got {
			if !d.verified || d.event != d.env.Type || !strings.HasPrefix(d.delivery, "dlv_") || !strings.HasPrefix(d.env.ID, "evt_") || d.env.CreatedAt.IsZero() {
				t.Fatalf("delivery %+v: verified %v, headers %q %q", d.env, d.verified, d.event, d.delivery)
			}
		}
		var detail struct {
			CallSID    string `json:"callSid"`
			From       string `json:"from"`
			Decision   struct{ Result string }
			EndedAt    *time.Time `json:"endedAt"`
			EndReason  string     `json:"endReason"`
			Transcript []struct{ Speaker, Text string }
		}
		if err := json.Unmarshal(got[1].env.Data, &detail); err != nil {
			t.Fatal(err)
		}
		said := false
		for _, l := range detail.Transcript {
			said = said || (l.Speaker == "caller" && strings.Contains(l.Text, "check my order"))
		}
		if detail.CallSID != c.CallSid() || detail.From == caller || !strings.HasSuffix(detail.From, "12") || detail.Decision.Result != "accept" || detail.EndedAt == nil || detail.EndReason != "caller_hangup" || !said {
			t.Fatalf("call.ended data = %s", got[1].env.Data)
		}
		log := deliveryLog(ctx, t, r.srv.URL, id)
		if len(log) != 2 || log[0].State != webhooks.StateDelivered || log[0].Attempts != 1 || log[1].State != webhooks.StateDelivered {
			t.Fatalf("delivery log = %+v", log)
		}
		if n := counterValue(t, r, "voiceagent_webhook_deliveries_total", "delivered"); n != 2 {
			t.Fatalf("delivered metric = %v, want 2", n)
		}
		r.assertNoLeaks(t, caller)
	})
}

// counterValue reads one labelled counter from the server's registry.
func counterValue(t *testing.T, r *rig, name, label string) float64 {
	t.Helper()
	mfs, err := r.srv.Metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if labelIs(m, label) {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

func labelIs(m *dto.Metric, v string) bool {
	for _, l := range m.GetLabel() {
		if l.GetValue() == v {
			return true
		}
	}
	return false
}

// TestWebhookRetry: a receiver that fails first gets the same delivery
// again once the backoff has passed (the dispatcher's clock is moved,
// nothing sleeps); the log shows the failure, then the delivery.
func TestWebhookRetry(t *testing.T) {
	recv := &hookReceiver{answer: func(n int, w http.ResponseWriter) {
		if n == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusOK)
	}}
	biz := httptest.NewServer(recv)
	t.Cleanup(biz.Close)
	clock := &testClock{}
	r := newRig(t, rigOptions{Env: map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"},
		Webhooks: app.WebhookOptions{Clock: clock.now, Backoff: func(int) time.Duration { return 20 * time.Second }, Poll: 20 * time.Millisecond}})
	ctx := ctxFor(t, 30*time.Second)
	live := r.srv.Bus.Subscribe() // the dashboard's alert panel reads these
	defer live.Close()
	id := subscribeHook(ctx, t, r.srv.URL, biz.URL, recv, webhooks.SecurityAlert)
	apiCall(ctx, t, r.srv.URL, "POST", "/api/webhooks/"+id+"/test", "", 202)
	if err := poll.Until(ctx, func() bool {
		log := deliveryLog(ctx, t, r.srv.URL, id)
		return len(log) == 1 && log[0].State == webhooks.StateRetrying
	}); err != nil {
		t.Fatalf("first attempt not logged as retrying: %+v", deliveryLog(ctx, t, r.srv.URL, id))
	}
	failed := nextLiveEvent(ctx, t, live, events.WebhookFailed)
	if d := failed.Data; d["webhookId"] != id || d["state"] != webhooks.StateRetrying || d["status"] != 503 || d["attempts"] != 1 || d["event"] != webhooks.Test {
		t.Fatalf("webhook.failed live event = %+v", d)
	}
	if log := deliveryLog(ctx, t, r.srv.URL, id); log[0].Attempts != 1 || log[0].LastStatus != 503 || log[0].LastError != "answered 503" {
		t.Fatalf("log after the failure = %+v", log)
	}
	if n := len(recv.deliveries()); n != 1 {
		t.Fatalf("deliveries before the backoff passed = %d, want 1", n)
	}
	clock.advance(21 * time.Second)
	if err := poll.Until(ctx, func() bool { return len(recv.deliveries()) == 2 }); err != nil {
		t.Fatal("the retry never came")
	}
	outboxEmpty(ctx, t, r.srv.DB)
	got := recv.deliveries()
	if got[0].delivery != got[1].delivery || string(got[0].body) != string(got[1].body) || got[1].env.Type != webhooks.Test {
		t.Fatalf("the retry is not the same delivery: %q %q", got[0].delivery, got[1].delivery)
	}
	if log := deliveryLog(ctx, t, r.srv.URL, id); log[0].State != webhooks.StateDelivered || log[0].Attempts != 2 || log[0].LastStatus != 200 {
		t.Fatalf("log after the retry = %+v", log)
	}
}

// TestWebhookSurvivesAKill: the state changes (a call admitted and
// ended) are committed by a server that never delivers, and an instance
// that claimed the deliveries dies holding them; a new server on the
// same database delivers both, in order, once the dead claim's lease has
// expired.
func TestWebhookSurvivesAKill(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		recv, biz := newHookReceiver(t)
		env := map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}
		first := newRig(t, rigOptions{DB: db, Env: env, Webhooks: app.WebhookOptions{Stopped: true}})
		ctx := ctxFor(t, 30*time.Second)
		subscribeHook(ctx, t, first.srv.URL, biz.URL, recv, webhooks.CallStarted, webhooks.CallEnded)
		c, _ := first.streamedCall(ctx, t, "+15555550113", sim.ServiceNumber)
		_ = c.Stop()
		if err := poll.Until(ctx, func() bool {
			n, _, _ := db.Webhooks().OutboxStats(ctx)
			return n == 2
		}); err != nil {
			t.Fatal("call.started and call.ended were not both written")
		}
		// An instance claims the first delivery and dies before sending.
		dead, err := db.Webhooks().Claim(ctx, "dead-instance", time.Now(), webhooks.DefaultLease, 10, nil)
		if err != nil || len(dead) != 1 {
			t.Fatalf("dead instance's claim = %v, %v", dead, err)
		}
		first.srv.HTTP.Close() // the first server is gone

		clock := &testClock{}
		second := apptest.New(t, apptest.Options{DB: db, Env: env, App: app.Options{Webhooks: app.WebhookOptions{Clock: clock.now, Poll: 20 * time.Millisecond}}})
		_ = second
		// Nothing goes out while the dead claim's lease holds.
		if got := len(recv.deliveries()); got != 0 {
			t.Fatalf("delivered %d while the dead instance's lease holds", got)
		}
		clock.advance(webhooks.DefaultLease + time.Second)
		if err := poll.Until(ctx, func() bool { return len(recv.deliveries()) == 2 }); err != nil {
			t.Fatalf("after the restart: %d deliveries, want 2", len(recv.deliveries()))
		}
		outboxEmpty(ctx, t, db)
		got := recv.deliveries()
		if len(got) != 2 || got[0].env.Type != webhooks.CallStarted || got[1].env.Type != webhooks.CallEnded || !got[0].verified || !got[1].verified {
			t.Fatalf("deliveries after the restart = %+v", got)
		}
	})
}

// TestWebhookTwoInstancesPostgres: two servers share one PostgreSQL
// outbox and both dispatch; every event is delivered exactly once, and
// the events of each call arrive in order.
func TestWebhookTwoInstancesPostgres(t *testing.T) {
	dbA, url := storetest.PostgresURL(t)
	dbB, err := store.Open(context.Background(), url, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dbB.Close() })
	recv, biz := newHookReceiver(t)
	env := map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}
	opts := app.Options{Webhooks: app.WebhookOptions{Poll: 10 * time.Millisecond}}
	a := apptest.New(t, apptest.Options{DB: dbA, Env: env, App: opts})
	b := apptest.New(t, apptest.Options{DB: dbB, Env: env, App: opts})
	ctx := ctxFor(t, 60*time.Second)
	id := subscribeHook(ctx, t, a.URL, biz.URL, recv, webhooks.CallStarted, webhooks.CallEnded, webhooks.CallRefused)

	const tests, calls = 40, 20
	for i := range tests {
		base := a.URL
		if i%2 == 1 {
			base = b.URL
		}
		sendTest(ctx, t, base, id)
	}
	for i := range calls {
		db := []*store.DB{dbA, dbB}[i%2]
		c := inboundCall(i)
		if _, _, err := db.Calls().AdmitCall(ctx, c, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Calls().EndCall(ctx, voice.CallEnd{CallSID: c.CallSID, Reason: voice.EndCallerHangup, At: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	want := tests + 2*calls
	if err := poll.Until(ctx, func() bool { return len(recv.deliveries()) >= want }); err != nil {
		t.Fatalf("delivered %d of %d", len(recv.deliveries()), want)
	}
	outboxEmpty(ctx, t, dbA)
	seen := map[string]int{}
	var callOrder = map[string][]string{}
	for _, d := range recv.deliveries() {
		seen[d.delivery]++
		if d.env.Type != webhooks.Test {
			var data struct{ CallSID string }
			_ = json.Unmarshal(d.env.Data, &data)
			callOrder[data.CallSID] = append(callOrder[data.CallSID], d.env.Type)
		}
	}
	for dlv, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s sent %d times", dlv, n)
		}
	}
	if len(seen) != want {
		t.Fatalf("distinct deliveries = %d, want %d", len(seen), want)
	}
	for sid, order := range callOrder {
		if len(order) != 2 || order[0] != webhooks.CallStarted || order[1] != webhooks.CallEnded {
			t.Errorf("call %s: events %v, want started then ended", sid, order)
		}
	}
}

// sendTest queues a test event, waiting while the webhook has as many
// test events pending as it may (429).
func sendTest(ctx context.Context, t *testing.T, base, id string) {
	t.Helper()
	status := 0
	if err := poll.Until(ctx, func() bool {
		req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/webhooks/"+id+"/test", nil)
		req.Header.Set("Authorization", "Bearer "+apptest.Bearer)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		status = resp.StatusCode
		return status != http.StatusTooManyRequests
	}); err != nil || status != http.StatusAccepted {
		t.Fatalf("POST /api/webhooks/%s/test = %d (%v), want 202", id, status, err)
	}
}

// TestWebhookURLsRefused: SSRF attempts. Literal addresses in refused
// ranges are 400 at creation; a name that resolves to loopback is
// refused when the delivery connects (after DNS), so the receiver on
// loopback never hears from us; a redirect is never followed.
func TestWebhookURLsRefused(t *testing.T) {
	recv := &hookReceiver{}
	inside := httptest.NewServer(recv)
	t.Cleanup(inside.Close)
	clock := &testClock{}
	r := newRig(t, rigOptions{Webhooks: app.WebhookOptions{Clock: clock.now, Poll: 20 * time.Millisecond}})
	ctx := ctxFor(t, 30*time.Second)
	port := inside.URL[strings.LastIndex(inside.URL, ":"):]
	for _, u := range []string{"http://127.0.0.1" + port, "http://[::1]" + port, "http://169.254.169.254/latest/meta-data", "http://10.0.0.1/x",
		"http://2130706433" + port, "http://0x7f000001/", "http://127.1/", "ftp://example.com/", "https://user:pw@example.com/", "http://[::ffff:127.0.0.1]/"} {
		b := apiCall(ctx, t, r.srv.URL, "POST", "/api/webhooks", `{"url":"`+u+`","events":["call.ended"]}`, 400)
		if !strings.Contains(string(b), `"invalid"`) {
			t.Fatalf("%s: %s", u, b)
		}
	}
	apiCall(ctx, t, r.srv.URL, "POST", "/api/webhooks", `{"url":"https://hooks.example.com/","events":["call.answered"]}`, 400)
	apiCall(ctx, t, r.srv.URL, "POST", "/api/webhooks", `{"url":"https://hooks.example.com/","events":[]}`, 400)
	apiCall(ctx, t, r.srv.URL, "POST", "/api/webhooks", `{"url":"https://hooks.example.com/","events":["call.ended"],"secret":"mine"}`, 400)

	// A name resolving to loopback passes creation, and the dialer
	// refuses it.
	id := subscribeHook(ctx, t, r.srv.URL, "http://localhost"+port+"/hooks", recv, webhooks.CallEnded)
	apiCall(ctx, t, r.srv.URL, "POST", "/api/webhooks/"+id+"/test", "", 202)
	if err := poll.Until(ctx, func() bool { return len(deliveryLog(ctx, t, r.srv.URL, id)) == 1 }); err != nil {
		t.Fatal("the refused attempt was not logged")
	}
	if log := deliveryLog(ctx, t, r.srv.URL, id); log[0].State != webhooks.StateRetrying || !strings.Contains(log[0].LastError, "refused") {
		t.Fatalf("log = %+v, want a refused attempt", log)
	}
	if n := len(recv.deliveries()); n != 0 {
		t.Fatalf("the loopback receiver got %d requests", n)
	}
}

// TestWebhookRedirectAndGone: with loopback allowed, a receiver that
// redirects is not followed (the target never hears from us, the
// delivery retries); a receiver answering 410 disables its subscription,
// which then refuses test sends.
func TestWebhookRedirectAndGone(t *testing.T) {
	target := &hookReceiver{}
	targetSrv := httptest.NewServer(target)
	t.Cleanup(targetSrv.Close)
	redirector := &hookReceiver{answer: func(_ int, w http.ResponseWriter) {
		w.Header().Set("Location", targetSrv.URL)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}}
	redirSrv := httptest.NewServer(redirector)
	t.Cleanup(redirSrv.Close)
	gone := &hookReceiver{answer: func(_ int, w http.ResponseWriter) { w.WriteHeader(http.StatusGone) }}
	goneSrv := httptest.NewServer(gone)
	t.Cleanup(goneSrv.Close)

	r := newRig(t, rigOptions{Env: map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}, Webhooks: app.WebhookOptions{Poll: 20 * time.Millisecond}})
	ctx := ctxFor(t, 30*time.Second)
	rid := subscribeHook(ctx, t, r.srv.URL, redirSrv.URL, redirector, webhooks.CallEnded)
	target.setSecret("whsec_irrelevant")
	apiCall(ctx, t, r.srv.URL, "POST", "/api/webhooks/"+rid+"/test", "", 202)
	if err := poll.Until(ctx, func() bool { return len(deliveryLog(ctx, t, r.srv.URL, rid)) == 1 }); err != nil {
		t.Fatal("the redirected attempt was not logged")
	}
	if log := deliveryLog(ctx, t, r.srv.URL, rid); log[0].State != webhooks.StateRetrying || log[0].LastStatus != 307 || !strings.Contains(log[0].LastError, "redirect") {
		t.Fatalf("log = %+v", log)
	}
	if n := len(target.deliveries()); n != 0 {
		t.Fatalf("the redirect was followed (%d requests)", n)
	}

	live := r.srv.Bus.Subscribe()
	defer live.Close()
	gid := subscribeHook(ctx, t, r.srv.URL, goneSrv.URL, gone, webhooks.CallEnded)
	apiCall(ctx, t, r.srv.URL, "POST", "/api/webhooks/"+gid+"/test", "", 202)
	if d := nextLiveEvent(ctx, t, live, events.WebhookDisabled).Data; d["webhookId"] != gid || d["status"] != 410 {
		t.Fatalf("webhook.disabled live event = %+v", d)
	}
	if err := poll.Until(ctx, func() bool {
		var sub struct{ DisabledAt *time.Time }
		_ = json.Unmarshal(apiCall(ctx, t, r.srv.URL, "GET", "/api/webhooks/"+gid, "", 200), &sub)
		return sub.DisabledAt != nil
	}); err != nil {
		t.Fatal("410 did not disable the subscription")
	}
	if log := deliveryLog(ctx, t, r.srv.URL, gid); len(log) != 1 || log[0].State != webhooks.StateDisabled || log[0].LastStatus != 410 {
		t.Fatalf("log = %+v", log)
	}
	apiCall(ctx, t, r.srv.URL, "POST", "/api/webhooks/"+gid+"/test", "", 409)
	apiCall(ctx, t, r.srv.URL, "DELETE", "/api/webhooks/"+gid, "", 204)
	apiCall(ctx, t, r.srv.URL, "GET", "/api/webhooks/"+gid, "", 404)
	apiCall(ctx, t, r.srv.URL, "GET", "/api/webhooks/wh_nothex/deliveries", "", 404)
}

// inboundCall is an accepted call admitted straight through the store.
func inboundCall(i int) voice.Call {
	return voice.Call{CallSID: fmt.Sprintf("CA%032x", 0xabc00+i), From: "+15555550114", To: "+15005550006", Decision: voice.Accept,
		Status: "ringing", Active: true, TwiML: "<Response/>", CreatedAt: time.Now()}
}

// TestWebhookToolFailed: an HTTP tool that answers 500 during a real call
// is audited, and the audit batch writes tool.failed with it; the
// receiver gets the tool, outcome and status, never the arguments.
func TestWebhookToolFailed(t *testing.T) {
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }))
	t.Cleanup(broken.Close)
	recv, biz := newHookReceiver(t)
	r := newRig(t, rigOptions{Env: map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}, Webhooks: app.WebhookOptions{Poll: 20 * time.Millisecond}})
	ctx := ctxFor(t, 30*time.Second)
	subscribeHook(ctx, t, r.srv.URL, biz.URL, recv, webhooks.ToolFailed)
	apiCall(ctx, t, r.srv.URL, "POST", "/api/tools", `{"name":"check_order","url":"`+broken.URL+`/x","parameters":{"type":"object"}}`, 201)
	var agent struct{ ID string }
	_ = json.Unmarshal(apiCall(ctx, t, r.srv.URL, "POST", "/api/agents", `{"name":"Orders","voice":"alloy","model":"gpt-realtime","tools":["check_order"]}`, 201), &agent)
	apiCall(ctx, t, r.srv.URL, "PUT", "/api/numbers/%2B15555550175", `{"agentId":"`+agent.ID+`"}`, 201)
	r.rt.NextResponseCallsTool("check_order", `{"order":"SECRET-ARGUMENT"}`)
	c, s := r.streamedCall(ctx, t, "+15555550115", "+15555550175")
	if err := s.WaitFor(ctx, func() bool { return len(s.FunctionOutputs()) >= 1 }); err != nil {
		t.Fatal(err)
	}
	if err := poll.Until(ctx, func() bool { return recv.count(webhooks.ToolFailed) == 1 }); err != nil {
		t.Fatal("no tool.failed delivered")
	}
	d := recv.deliveries()[0]
	var data struct {
		CallSID string
		Detail  struct {
			Tool, Outcome string
			Status        int
		}
	}
	if err := json.Unmarshal(d.env.Data, &data); err != nil || !d.verified || data.CallSID != c.CallSid() || data.Detail.Tool != "check_order" ||
		data.Detail.Outcome != "status" || data.Detail.Status != 500 || strings.Contains(string(d.body), "SECRET-ARGUMENT") {
		t.Fatalf("tool.failed = %s (verified %v)", d.body, d.verified)
	}
	_ = c.Stop()
}

// TestWebhookShutdownHandsBack: a server stopped while a delivery is in
// flight gives its claim back without counting the attempt, so the next
// server delivers at once (no lease to wait for).
func TestWebhookShutdownHandsBack(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	recv := &hookReceiver{}
	recv.answer = func(n int, w http.ResponseWriter) {
		if n == 1 {
			<-release // hangs until the test lets go
		}
		w.WriteHeader(http.StatusNoContent)
	}
	biz := httptest.NewServer(recv)
	t.Cleanup(func() { once.Do(func() { close(release) }); biz.Close() })
	db := storetest.SQLite(t)
	env := map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}
	first := apptest.New(t, apptest.Options{DB: db, Env: env, App: app.Options{Webhooks: app.WebhookOptions{Poll: 20 * time.Millisecond}}})
	ctx := ctxFor(t, 30*time.Second)
	id := subscribeHook(ctx, t, first.URL, biz.URL, recv, webhooks.CallEnded)
	apiCall(ctx, t, first.URL, "POST", "/api/webhooks/"+id+"/test", "", 202)
	if err := poll.Until(ctx, func() bool { return len(recv.deliveries()) == 1 }); err != nil {
		t.Fatal("the first attempt never arrived")
	}
	first.Dispatcher.Stop()
	var owner string
	var attempts int
	if err := db.SQL.QueryRowContext(ctx, `SELECT lease_owner, attempts FROM webhook_outbox`).Scan(&owner, &attempts); err != nil || owner != "" || attempts != 0 {
		t.Fatalf("after the stop: owner %q, attempts %d (%v); want the claim given back", owner, attempts, err)
	}
	if log := deliveryLog(ctx, t, first.URL, id); len(log) != 0 {
		t.Fatalf("an attempt cut by shutdown was logged: %+v", log)
	}
	once.Do(func() { close(release) })
	apptest.New(t, apptest.Options{DB: db, Env: env, App: app.Options{Webhooks: app.WebhookOptions{Poll: 20 * time.Millisecond}}})
	if err := poll.Until(ctx, func() bool { return len(recv.deliveries()) == 2 }); err != nil {
		t.Fatal("the next server did not deliver")
	}
	outboxEmpty(ctx, t, db)
}

// nextLiveEvent reads sub until an event of type typ arrives.
func nextLiveEvent(ctx context.Context, t *testing.T, sub *events.Subscription, typ string) events.Event {
	t.Helper()
	for {
		select {
		case ev := <-sub.Events():
			if ev.Type == typ {
				return ev
			}
		case <-ctx.Done():
			t.Fatalf("no %s live event", typ)
		}
	}
}

// TestWebhookCallStartedNamesTheAgent: call.started of a call to a number
// with its own agent names that agent (the agent was written after the
// admission, whose event then said "agentId":"").
func TestWebhookCallStartedNamesTheAgent(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		recv, biz := newHookReceiver(t)
		r := newRig(t, rigOptions{DB: db, Env: map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}, Webhooks: app.WebhookOptions{Poll: 20 * time.Millisecond}})
		ctx := ctxFor(t, 30*time.Second)
		subscribeHook(ctx, t, r.srv.URL, biz.URL, recv, webhooks.CallStarted)
		var agent struct{ ID string }
		_ = json.Unmarshal(apiCall(ctx, t, r.srv.URL, "POST", "/api/agents", `{"name":"Orders","voice":"alloy","model":"gpt-realtime"}`, 201), &agent)
		apiCall(ctx, t, r.srv.URL, "PUT", "/api/numbers/%2B15555550175", `{"agentId":"`+agent.ID+`"}`, 201)
		c, _ := r.streamedCall(ctx, t, "+15555550116", "+15555550175")
		defer c.Stop()
		if err := poll.Until(ctx, func() bool { return recv.count(webhooks.CallStarted) == 1 }); err != nil {
			t.Fatal("no call.started delivered")
		}
		var data struct {
			CallSID string `json:"callSid"`
			AgentID string `json:"agentId"`
		}
		d := recv.deliveries()[0]
		if err := json.Unmarshal(d.env.Data, &data); err != nil || data.CallSID != c.CallSid() || data.AgentID != agent.ID {
			t.Fatalf("call.started = %s, want agentId %q", d.env.Data, agent.ID)
		}
		detail := apiCall(ctx, t, r.srv.URL, "GET", "/api/calls/"+c.CallSid(), "", 200)
		if !strings.Contains(string(detail), `"agentId":"`+agent.ID+`"`) {
			t.Fatalf("call detail = %s", detail)
		}
	})
}

// TestWebhookOutboundCallEvents: an outbound call's call.started carries
// Twilio's CallSid, the one its call.ended and GET /api/calls/{callSid}
// use, and a call Twilio refuses (never placed) sends nothing. Events were
// written at the admission under the provisional CallSid and delivered
// even for a call deleted unplaced.
func TestWebhookOutboundCallEvents(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		recv, biz := newHookReceiver(t)
		r := newRig(t, rigOptions{DB: db, Env: outboundEnv(map[string]string{"TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}),
			Webhooks: app.WebhookOptions{Poll: 20 * time.Millisecond}})
		ctx := ctxFor(t, 30*time.Second)
		subscribeHook(ctx, t, r.srv.URL, biz.URL, recv, webhooks.CallStarted, webhooks.CallRefused, webhooks.CallEnded)

		// Refused by Twilio: no record, no event.
		r.rest.Fail(fake.OpCreateCall, 400, 21211, 1)
		r.placeCall(ctx, t, `{"to":"`+outCallee2+`"}`, 502, "")
		res := r.placeCall(ctx, t, `{"to":"`+outCallee+`"}`, 202, "")
		var placed struct{ CallSid string }
		if err := json.Unmarshal(res.Body, &placed); err != nil {
			t.Fatal(err)
		}
		if ans, err := r.rest.SendCallStatus(ctx, placed.CallSid, "completed", 3); err != nil || ans.Status >= 300 {
			t.Fatalf("status callback = %+v, %v", ans, err)
		}
		if err := poll.Until(ctx, func() bool { return recv.count(webhooks.CallEnded) == 1 }); err != nil {
			t.Fatalf("no call.ended: %d deliveries", len(recv.deliveries()))
		}
		outboxEmpty(ctx, t, db)
		got := recv.deliveries()
		if len(got) != 2 || got[0].env.Type != webhooks.CallStarted || got[1].env.Type != webhooks.CallEnded {
			t.Fatalf("deliveries: %d, want call.started then call.ended of the placed call only", len(got))
		}
		for _, d := range got {
			var data struct {
				CallSID   string `json:"callSid"`
				Direction string `json:"direction"`
			}
			if err := json.Unmarshal(d.env.Data, &data); err != nil || data.CallSID != placed.CallSid || data.Direction != "outbound" {
				t.Fatalf("%s data = %s, want callSid %s", d.env.Type, d.env.Data, placed.CallSid)
			}
		}
		apiCall(ctx, t, r.srv.URL, "GET", "/api/calls/"+placed.CallSid, "", 200)
	})
}

// checkDeliveriesAgainstSpec holds every delivery a receiver got to
// api/openapi.yaml: the body to WebhookEvent, its data to the schema of
// its type, the headers to their patterns.
func checkDeliveriesAgainstSpec(t *testing.T, got []hookDelivery) {
	t.Helper()
	if len(got) == 0 {
		return
	}
	doc, err := openapi3.NewLoader().LoadFromData(api.OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	schema := func(name string) *openapi3.Schema { return doc.Components.Schemas[name].Value }
	dataSchema := map[string]string{
		webhooks.CallStarted: "WebhookCallSnapshot", webhooks.CallRefused: "WebhookCallSnapshot",
		webhooks.CallEnded: "CallDetail", webhooks.ToolFailed: "WebhookAuditData",
		webhooks.SecurityAlert: "WebhookAuditData", webhooks.Test: "WebhookTestData",
	}
	delivery := regexp.MustCompile(`^dlv_[0-9a-f]{48}$`)
	for _, d := range got {
		var body, data any
		if err := json.Unmarshal(d.body, &body); err != nil {
			t.Errorf("delivery %s: body is not JSON: %v", d.delivery, err)
			continue
		}
		if err := schema("WebhookEvent").VisitJSON(body); err != nil {
			t.Errorf("%s delivery does not match WebhookEvent: %v\n%s", d.env.Type, err, d.body)
		}
		_ = json.Unmarshal(d.env.Data, &data)
		if name, ok := dataSchema[d.env.Type]; !ok {
			t.Errorf("event type %q is not in api/openapi.yaml", d.env.Type)
		} else if err := schema(name).VisitJSON(data); err != nil {
			t.Errorf("%s data does not match %s: %v\n%s", d.env.Type, name, err, d.env.Data)
		}
		if !delivery.MatchString(d.delivery) || d.event != d.env.Type {
			t.Errorf("headers: delivery %q, event %q for a %s body", d.delivery, d.event, d.env.Type)
		}
	}
}
