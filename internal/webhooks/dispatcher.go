package webhooks

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/egress"
	"github.com/voiceagent/voiceagent/internal/panics"
)

// Sender sends one signed POST (*egress.Client: the SSRF guard in the
// dialer, no redirects, no proxy, time and size limits).
type Sender interface {
	Post(ctx context.Context, r egress.Request) egress.Result
}

// Observer receives the dispatcher's measurements (metrics).
type Observer interface {
	// Delivered counts one attempt's outcome: delivered, retry, failed
	// or disabled.
	Delivered(outcome string)
	// Outbox reports the rows waiting and the age of the oldest.
	Outbox(depth int64, oldestAge time.Duration)
	// Failed reports an attempt that did not deliver (recorded).
	Failed(f Failure)
}

// Failure is an attempt that did not deliver, as operators are told of
// it: no body, no secret.
type Failure struct {
	SubscriptionID, DeliveryID, Event, CallSID string
	State                                      string // StateRetrying, StateFailed or StateDisabled
	Status                                     int    // the receiver's HTTP status (0: none)
	Error                                      string
	Attempts                                   int
}

// Defaults of the delivery policy.
const (
	DefaultConcurrency = 8
	DefaultLease       = 2 * time.Minute // far longer than one attempt (Timeout)
	DefaultPoll        = time.Second
	DefaultTimeout     = 10 * time.Second
	GiveUpAfter        = 24 * time.Hour
	firstBackoff       = 15 * time.Second
	maxBackoff         = 6 * time.Hour
	statsEvery         = 5 * time.Second
	maxErrorText       = 200
)

// Backoff is the wait before the next attempt after attempt failures:
// 15 s doubling per failure up to 6 h, each drawn uniformly from its
// upper half (jitter), so the first retry comes within 7.5-15 s and
// receivers coming back from an outage are not hit by every sender at
// once.
func Backoff(attempt int) time.Duration {
	d := firstBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// Options configure a Dispatcher. Store, Sealer and Sender are required.
type Options struct {
	Store  Store
	Sealer *agents.Sealer
	Sender Sender
	// Details builds call.ended's data (the call detail).
	Details CallDetails
	// ShowNumbers sends phone numbers unmasked (LOGS_SHOW_NUMBERS).
	ShowNumbers bool
	// CheckURL, when set, is applied to the URL before every attempt
	// (the creation rules: a webhook made with an http URL in
	// development is not sent to in production).
	CheckURL func(string) error
	Log      *slog.Logger
	Audit    Auditor  // records a subscription disabled by 410
	Observer Observer // nil: none
	// Owner names this instance in its claims (unique per process).
	Owner string
	// Now is the clock (tests move it instead of sleeping); Backoff the
	// retry policy (nil: Backoff).
	Now         func() time.Time
	Backoff     func(attempt int) time.Duration
	Concurrency int           // deliveries in flight (DefaultConcurrency)
	PerWebhook  int           // deliveries in flight to one webhook (Concurrency/2, at least 1)
	Lease       time.Duration // how long a claim holds (DefaultLease)
	Poll        time.Duration // how often the outbox is read without a wake-up (DefaultPoll)
	Timeout     time.Duration // one attempt (DefaultTimeout)
}

// Dispatcher delivers the outbox: it claims due rows (up to Concurrency
// at a time, each with a lease), sends each signed, and records the
// outcome. Several dispatchers (instances) share one PostgreSQL outbox:
// a claimed row is skipped by the others until its lease ends, so a
// delivery is sent twice only when an instance died mid-attempt.
//
// One webhook holds at most PerWebhook of the slots: a receiver that
// answers slowly (or not at all, until the timeout) while its events keep
// coming cannot keep the other webhooks' deliveries waiting behind its
// own.
type Dispatcher struct {
	o      Options
	wake   chan struct{}
	slots  chan struct{}
	cancel context.CancelFunc
	wg     sync.WaitGroup // the loop and the deliveries in flight

	mu       sync.Mutex
	inFlight map[string]int // deliveries in flight by subscription
}

// NewDispatcher returns a dispatcher; Start runs it.
func NewDispatcher(o Options) *Dispatcher {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Backoff == nil {
		o.Backoff = Backoff
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	if o.PerWebhook <= 0 {
		o.PerWebhook = max(1, o.Concurrency/2)
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Poll <= 0 {
		o.Poll = DefaultPoll
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Owner == "" {
		o.Owner = "dispatcher-" + randomHex(8)
	}
	return &Dispatcher{o: o, wake: make(chan struct{}, 1), slots: make(chan struct{}, o.Concurrency), cancel: func() {},
		inFlight: make(map[string]int)}
}

// Wake makes the loop look at the outbox now (an event was written).
// It never blocks.
func (d *Dispatcher) Wake() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// Start runs the loop in the background until Stop.
func (d *Dispatcher) Start() {
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.loop(ctx)
	}()
}

// Stop ends the loop; attempts in flight are cancelled and their claims
// given back (not counted as attempts), so another instance or the next
// start delivers them.
func (d *Dispatcher) Stop() {
	d.cancel()
	d.wg.Wait()
}

func (d *Dispatcher) loop(ctx context.Context) {
	poll := time.NewTicker(d.o.Poll)
	defer poll.Stop()
	var lastStats time.Time
	for {
		d.contain("webhook_dispatch", func() { d.fill(ctx) })
		if time.Since(lastStats) >= statsEvery {
			d.contain("webhook_stats", func() { d.RefreshStats(ctx) })
			lastStats = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-poll.C:
		}
	}
}

// contain runs fn, logging a panic instead of ending the loop.
func (d *Dispatcher) contain(where string, fn func()) {
	defer func() {
		if v := recover(); v != nil {
			panics.Log(d.o.Log, "panic contained", "webhooks", v, false, "where", where)
		}
	}()
	fn()
}

// fill claims as many due rows as there are free slots and starts their
// deliveries, skipping the webhooks that hold their share of the slots.
func (d *Dispatcher) fill(ctx context.Context) {
	for ctx.Err() == nil {
		free := cap(d.slots) - len(d.slots)
		if free == 0 {
			return
		}
		claimed, err := d.o.Store.Claim(ctx, d.o.Owner, d.o.Now(), d.o.Lease, free, d.busyWebhooks())
		if err != nil && ctx.Err() == nil {
			d.o.Log.Warn("webhook outbox claim failed", "err", err)
		}
		// Rows read before a failure are leased to this instance: they
		// are delivered now rather than left to their lease's end. Rows
		// of a webhook that reached its share within this claim are
		// given back at once.
		started := 0
		var over []int64
		for _, p := range claimed {
			if !d.take(p.SubscriptionID) {
				over = append(over, p.ID)
				continue
			}
			started++
			d.slots <- struct{}{} // free by construction
			d.wg.Add(1)
			go func() {
				defer d.wg.Done()
				defer func() { d.done(p.SubscriptionID); <-d.slots; d.Wake() }()
				d.contain("webhook_delivery", func() { d.deliver(ctx, p) })
			}()
		}
		if len(over) > 0 {
			d.releaseIDs(over)
		}
		if err != nil || started == 0 {
			return
		}
	}
}

// take counts a delivery to subscription sub as in flight, unless sub
// holds its share of the slots already.
func (d *Dispatcher) take(sub string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight[sub] >= d.o.PerWebhook {
		return false
	}
	d.inFlight[sub]++
	return true
}

func (d *Dispatcher) done(sub string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.inFlight[sub]--; d.inFlight[sub] <= 0 {
		delete(d.inFlight, sub)
	}
}

// busyWebhooks are the subscriptions holding their share of the slots.
func (d *Dispatcher) busyWebhooks() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	busy := []string{}
	for sub, n := range d.inFlight {
		if n >= d.o.PerWebhook {
			busy = append(busy, sub)
		}
	}
	return busy
}

// RunOnce claims every due row (Concurrency at a time) and delivers it,
// returning how many attempts were made. Tests drive the outbox with it
// instead of the background loop.
func (d *Dispatcher) RunOnce(ctx context.Context) int {
	n := 0
	for {
		claimed, err := d.o.Store.Claim(ctx, d.o.Owner, d.o.Now(), d.o.Lease, d.o.Concurrency, nil)
		if err != nil || len(claimed) == 0 {
			return n
		}
		var wg sync.WaitGroup
		for _, p := range claimed {
			wg.Add(1)
			go func() {
				defer wg.Done()
				d.deliver(ctx, p)
			}()
		}
		wg.Wait()
		n += len(claimed)
	}
}

// deliver makes one attempt of p and records it.
func (d *Dispatcher) deliver(ctx context.Context, p Pending) {
	body := []byte(p.Body)
	if p.Body == "" {
		b, err := render(ctx, p, d.o.Details, d.o.ShowNumbers)
		if err != nil {
			if ctx.Err() != nil {
				d.release(p)
				return
			}
			// The reason goes to the delivery log and the live
			// webhook.failed event: a coded error's client-safe message,
			// never a driver's text (the log has that).
			d.o.Log.Warn("webhook event not built", "delivery", p.DeliveryID, "event", p.Type, "err", err)
			d.finish(ctx, p, 0, "could not build the event: "+apperr.MessageOf(err))
			return
		}
		if err := d.o.Store.SetBody(ctx, p.ID, d.o.Owner, string(b)); err != nil {
			if ctx.Err() != nil {
				d.release(p)
				return
			}
			d.o.Log.Warn("webhook body not stored", "delivery", p.DeliveryID, "err", err)
			return // the claim expires and the row is tried again
		}
		body = b
	}
	if d.o.CheckURL != nil {
		if err := d.o.CheckURL(p.URL); err != nil {
			d.finish(ctx, p, 0, "the URL is refused: "+err.Error())
			return
		}
	}
	secret, err := d.o.Sealer.Open(p.SubscriptionID, p.Sealed)
	if err != nil {
		d.finish(ctx, p, 0, "the webhook's secret does not open with this server's PRIVACY_HASH_KEY; create the webhook again")
		return
	}
	res := d.o.Sender.Post(ctx, egress.Request{URL: p.URL, Body: body, Secret: []byte(secret), DeliveryID: p.DeliveryID,
		Timeout: d.o.Timeout, Event: p.Type, AnyBody: true})
	if ctx.Err() != nil && res.Status == 0 {
		// Cut by shutdown before any answer: not the receiver's doing.
		// An answer that did arrive is recorded below (a 2xx given back
		// would be sent again).
		d.release(p)
		return
	}
	if res.Outcome == egress.OK {
		d.record(ctx, p, Outcome{State: StateDelivered, Status: res.Status, At: d.o.Now()})
		return
	}
	if res.Status == 410 {
		d.record(ctx, p, Outcome{State: StateDisabled, Status: res.Status, Error: "answered 410 Gone: the webhook is disabled", At: d.o.Now()})
		d.o.Log.Warn("webhook disabled: its receiver answered 410 Gone", "webhook", p.SubscriptionID)
		if d.o.Audit != nil {
			d.o.Audit.Record(audit.Event{Type: audit.TypeWebhookChange, Severity: audit.Warning, Actor: "webhooks",
				Detail: map[string]any{"action": "disabled", "id": p.SubscriptionID, "status": 410}})
		}
		return
	}
	d.finish(ctx, p, res.Status, res.Reason)
}

// finish records a failed attempt: retried with backoff, or given up
// once GiveUpAfter has passed since the event. A backoff that would
// carry the next try past that deadline is cut short, so the last try
// comes at the deadline itself: a receiver that is back within 24 hours
// gets the event.
func (d *Dispatcher) finish(ctx context.Context, p Pending, status int, reason string) {
	now := d.o.Now()
	deadline := p.CreatedAt.Add(GiveUpAfter)
	next := now.Add(d.o.Backoff(p.Attempts + 1))
	if next.After(deadline) {
		next = deadline
	}
	o := Outcome{State: StateRetrying, Status: status, Error: clipError(reason), At: now, NextAttempt: next}
	if !now.Before(deadline) {
		o.State = StateFailed
	}
	d.o.Log.Warn("webhook delivery failed", "webhook", p.SubscriptionID, "delivery", p.DeliveryID, "event", p.Type,
		"attempt", p.Attempts+1, "status", status, "reason", o.Error, "state", o.State)
	d.record(ctx, p, o)
}

func (d *Dispatcher) record(ctx context.Context, p Pending, o Outcome) {
	// The outcome is recorded even when ctx ended during the attempt's
	// last moments: an attempt that reached the receiver must not be
	// forgotten.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := d.o.Store.Finish(rctx, p, d.o.Owner, o); err != nil {
		d.o.Log.Error("webhook outcome not recorded; the delivery will be tried again", "delivery", p.DeliveryID, "err", err)
		return
	}
	if d.o.Observer != nil {
		label := map[string]string{StateDelivered: "delivered", StateRetrying: "retry", StateFailed: "failed", StateDisabled: "disabled"}[o.State]
		d.o.Observer.Delivered(label)
		if o.State != StateDelivered {
			d.o.Observer.Failed(Failure{SubscriptionID: p.SubscriptionID, DeliveryID: p.DeliveryID, Event: p.Type, CallSID: p.CallSID,
				State: o.State, Status: o.Status, Error: o.Error, Attempts: p.Attempts + 1})
		}
	}
}

func (d *Dispatcher) release(p Pending) { d.releaseIDs([]int64{p.ID}) }

// releaseIDs gives back claims not attempted.
func (d *Dispatcher) releaseIDs(ids []int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.o.Store.Release(ctx, d.o.Owner, ids); err != nil {
		d.o.Log.Warn("webhook claims not released; they expire with their lease", "claims", len(ids), "err", err)
	}
}

// RefreshStats reads the outbox depth and oldest row for the observer.
func (d *Dispatcher) RefreshStats(ctx context.Context) {
	if d.o.Observer == nil {
		return
	}
	depth, oldest, err := d.o.Store.OutboxStats(ctx)
	if err != nil {
		return
	}
	var age time.Duration
	if !oldest.IsZero() {
		age = max(0, d.o.Now().Sub(oldest))
	}
	d.o.Observer.Outbox(depth, age)
}

func clipError(s string) string {
	if len(s) <= maxErrorText {
		return s
	}
	return s[:maxErrorText] + "…"
}
