// Package webhooks tells the business's own systems what happened: signed
// POSTs of call.started, call.ended, call.refused, tool.failed and
// security.alert events to the URLs operators subscribe.
//
// Delivery goes through a durable outbox. The store writes an event's
// outbox rows (one per subscription that wants it) in the same
// transaction as the state change that causes it, so an event is never
// lost between the change and its delivery; the Dispatcher then delivers
// each row at least once, in order per call and subscription, retrying
// with exponential backoff and jitter for 24 hours.
package webhooks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// Event types a subscription may ask for.
const (
	CallStarted   = "call.started"   // an accepted call was admitted
	CallEnded     = "call.ended"     // an accepted call ended; data is the call detail
	CallRefused   = "call.refused"   // a call was refused (policy, busy, capacity)
	ToolFailed    = "tool.failed"    // an HTTP tool call failed
	SecurityAlert = "security.alert" // a security_alert audit event
	// Test is the event POST /api/webhooks/{id}/test sends to one
	// subscription; nobody subscribes to it.
	Test = "webhook.test"
)

// Types lists the event types a subscription may ask for, in a fixed
// order (each one's bit in a subscription's mask is 1 << its index).
var Types = []string{CallStarted, CallEnded, CallRefused, ToolFailed, SecurityAlert}

// Bit is the mask bit of an event type (0 for an unknown one).
func Bit(typ string) int64 {
	for i, t := range Types {
		if t == typ {
			return 1 << i
		}
	}
	return 0
}

// TypesOf lists the types a mask holds, in Types order.
func TypesOf(mask int64) []string {
	out := []string{}
	for i, t := range Types {
		if mask&(1<<i) != 0 {
			out = append(out, t)
		}
	}
	return out
}

// MaxPendingTests bounds the test events of one subscription waiting in
// the outbox: POST /api/webhooks/{id}/test cannot pile up requests to a
// receiver, nor hold the dispatcher's slots from real events.
const MaxPendingTests = 5

// MaxSubscriptions bounds the subscriptions (each event is written once
// per subscription that wants it, in the transaction that causes it).
const MaxSubscriptions = 20

// Delivery states in the log.
const (
	StateRetrying  = "retrying"  // failed, another attempt is due
	StateDelivered = "delivered" // a 2xx
	StateFailed    = "failed"    // given up after 24 hours of retries
	StateDisabled  = "disabled"  // answered 410: the subscription was disabled
	StateDropped   = "dropped"   // its subscription was disabled or deleted first
)

// Subscription is one URL that receives events. Its signing secret is
// never part of it: the store keeps it sealed.
type Subscription struct {
	ID         string
	URL        string
	Events     []string
	CreatedAt  time.Time
	DisabledAt *time.Time // set when a receiver answered 410 Gone
}

// Delivery is one (event, subscription) pair in the delivery log: status,
// attempts and the last error, never a body.
type Delivery struct {
	ID             string // X-Voiceagent-Delivery
	EventID        string
	SubscriptionID string
	Type           string
	CallSID        string
	State          string
	Attempts       int
	LastStatus     int
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// Pending is one outbox row claimed for delivery.
type Pending struct {
	ID             int64
	DeliveryID     string
	EventID        string
	SubscriptionID string
	Type           string
	CallSID        string
	Payload        string // the event's data as recorded ("" for call.ended)
	Body           string // the signed body, once fixed by the first attempt
	CreatedAt      time.Time
	Attempts       int // attempts made before this one
	URL            string
	Sealed         []byte // the subscription's sealed secret
}

// Outcome is what became of one attempt, for Store.Finish.
type Outcome struct {
	State       string // StateRetrying, StateDelivered, StateFailed or StateDisabled
	Status      int    // HTTP status, 0 when none arrived
	Error       string // short reason, never a body
	At          time.Time
	NextAttempt time.Time // when State is StateRetrying
}

// Store persists subscriptions, the outbox and the delivery log
// (internal/store). The outbox rows of call and audit events are written
// by the store itself, in the transactions that cause them.
type Store interface {
	// InsertSubscription stores s unless limit subscriptions exist
	// already (apperr.Conflict), atomically across instances.
	InsertSubscription(ctx context.Context, s Subscription, sealed []byte, max int) error
	ListSubscriptions(ctx context.Context) ([]Subscription, error)
	GetSubscription(ctx context.Context, id string) (Subscription, error)
	// DeleteSubscription removes it with its pending deliveries.
	DeleteSubscription(ctx context.Context, id string) error
	ListDeliveries(ctx context.Context, subscriptionID string, limit int) ([]Delivery, error)
	// EnqueueTest writes a Test event for one subscription and returns
	// its delivery id, unless maxPending of its Test events are still in
	// the outbox (apperr.RateLimited).
	EnqueueTest(ctx context.Context, subscriptionID, payload string, at time.Time, maxPending int) (string, error)

	// Claim leases up to n due rows to owner until now+lease: rows whose
	// next attempt is due, not leased by a live claim, with no older row
	// of the same call and subscription still in the outbox, and not of
	// the subscriptions in skip.
	Claim(ctx context.Context, owner string, now time.Time, lease time.Duration, n int, skip []string) ([]Pending, error)
	// SetBody fixes the body of a claimed row (first attempt).
	SetBody(ctx context.Context, id int64, owner, body string) error
	// Finish records an attempt: the log row is written, and the outbox
	// row removed (done) or rescheduled (retrying) if owner still holds
	// it. StateDisabled also disables the subscription and drops its
	// other pending rows.
	Finish(ctx context.Context, p Pending, owner string, o Outcome) error
	// Release gives back claims not attempted (shutdown).
	Release(ctx context.Context, owner string, ids []int64) error
	// OutboxStats returns the number of rows waiting and the creation
	// time of the oldest (zero when empty).
	OutboxStats(ctx context.Context) (depth int64, oldest time.Time, err error)
	// DeleteDeliveriesBefore trims the delivery log (retention).
	DeleteDeliveriesBefore(ctx context.Context, t time.Time) (int64, error)
}

// LogRetention is how long the delivery log is kept.
const LogRetention = 7 * 24 * time.Hour

var idRE = regexp.MustCompile(`^wh_[0-9a-f]{16}$`)

// ValidID reports whether id has a subscription id's shape.
func ValidID(id string) bool { return idRE.MatchString(id) }

// newID returns a subscription id: "wh_" + 16 hex digits.
func newID() string { return "wh_" + randomHex(8) }

// NewEventHex returns the random part of an event id (32 hex digits):
// the event is "evt_" + it, and its delivery to a subscription
// "dlv_" + it + the subscription id's hex, the same on every retry.
func NewEventHex() string { return randomHex(16) }

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("webhooks: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b)
}

// notFound is the answer for an unknown or malformed subscription id.
func notFound() error { return apperr.New(apperr.NotFound, "webhook not found") }
