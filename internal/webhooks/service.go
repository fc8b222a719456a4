package webhooks

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/voiceagent/voiceagent/internal/agents"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
)

// Auditor records audit events (*audit.Recorder).
type Auditor interface {
	Record(ev audit.Event)
}

// Settings configure the service.
type Settings struct {
	// CheckURL refuses a subscription URL (egress.CheckURL with the
	// server's APP_ENV and TOOL_ALLOWED_NETWORKS, as for HTTP tools).
	CheckURL func(string) error
	// Wake, when set, is told that an event was written (the dispatcher
	// of this instance then looks at once instead of at its next poll).
	Wake func()
}

// Service holds the rules for subscriptions. It is safe for concurrent
// use.
type Service struct {
	store  Store
	audit  Auditor
	sealer *agents.Sealer
	set    Settings
	now    func() time.Time
}

// NewService returns the service. sealer seals signing secrets (its own
// key: agents.NewSealerFor(PRIVACY_HASH_KEY, "webhook")).
func NewService(store Store, auditor Auditor, sealer *agents.Sealer, set Settings) *Service {
	if set.CheckURL == nil {
		set.CheckURL = func(string) error { return errors.New("webhook URLs are not configured") }
	}
	if set.Wake == nil {
		set.Wake = func() {}
	}
	return &Service{store: store, audit: auditor, sealer: sealer, set: set, now: time.Now}
}

func (s *Service) record(actor, action, id string) {
	s.audit.Record(audit.Event{Type: audit.TypeWebhookChange, Actor: actor, Detail: map[string]any{"action": action, "id": id}})
}

// Create validates and stores a subscription with a new signing secret,
// which is returned here and never again.
func (s *Service) Create(ctx context.Context, actor, url string, events []string) (Subscription, string, error) {
	if url == "" {
		return Subscription{}, "", apperr.New(apperr.Invalid, "url is required")
	}
	if err := s.set.CheckURL(url); err != nil {
		return Subscription{}, "", apperr.Wrap(err, apperr.Invalid, err.Error())
	}
	if len(events) == 0 {
		return Subscription{}, "", apperr.New(apperr.Invalid, "events must name at least one event type")
	}
	var mask int64
	for _, e := range events {
		b := Bit(e)
		if b == 0 {
			return Subscription{}, "", apperr.Errorf(apperr.Invalid, "unknown event type %s (known: call.started, call.ended, call.refused, tool.failed, security.alert)", quote(clip(e)))
		}
		mask |= b
	}
	sub := Subscription{ID: newID(), URL: url, Events: TypesOf(mask), CreatedAt: s.now().UTC().Truncate(time.Millisecond)}
	secret := agents.NewSecret()
	if err := s.store.InsertSubscription(ctx, sub, s.sealer.Seal(sub.ID, secret), MaxSubscriptions); err != nil {
		return Subscription{}, "", err
	}
	s.record(actor, "create", sub.ID)
	return sub, secret, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40]
	}
	return s
}

// List returns every subscription, oldest first.
func (s *Service) List(ctx context.Context) ([]Subscription, error) {
	return s.store.ListSubscriptions(ctx)
}

// Get returns one subscription or apperr.NotFound.
func (s *Service) Get(ctx context.Context, id string) (Subscription, error) {
	if !ValidID(id) {
		return Subscription{}, notFound()
	}
	return s.store.GetSubscription(ctx, id)
}

// Delete removes a subscription and its pending deliveries.
func (s *Service) Delete(ctx context.Context, actor, id string) error {
	if !ValidID(id) {
		return notFound()
	}
	if err := s.store.DeleteSubscription(ctx, id); err != nil {
		return err
	}
	s.record(actor, "delete", id)
	return nil
}

// Deliveries lists a subscription's delivery log, newest first.
func (s *Service) Deliveries(ctx context.Context, id string, limit int) ([]Delivery, error) {
	if _, err := s.Get(ctx, id); err != nil {
		return nil, err
	}
	return s.store.ListDeliveries(ctx, id, limit)
}

// SendTest queues a webhook.test event for the subscription through the
// outbox (signed, retried and logged like any other) and returns its
// delivery id. A disabled subscription answers 409; a subscription with
// MaxPendingTests test events still waiting answers 429.
func (s *Service) SendTest(ctx context.Context, actor, id string) (string, error) {
	sub, err := s.Get(ctx, id)
	if err != nil {
		return "", err
	}
	if sub.DisabledAt != nil {
		return "", apperr.New(apperr.Conflict, "the webhook is disabled (its receiver answered 410 Gone); create it again")
	}
	payload, _ := json.Marshal(map[string]any{"subscriptionId": id, "message": "a test event from voiceagent"})
	dlv, err := s.store.EnqueueTest(ctx, id, string(payload), s.now(), MaxPendingTests)
	if err != nil {
		return "", err
	}
	s.set.Wake()
	s.record(actor, "test", id)
	return dlv, nil
}

// Sealer is the service's sealer (the dispatcher opens secrets with it).
func (s *Service) Sealer() *agents.Sealer { return s.sealer }

// Known reports whether typ is an event type a subscription may ask for.
func Known(typ string) bool { return slices.Contains(Types, typ) }
