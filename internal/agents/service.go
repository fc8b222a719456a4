package agents

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"slices"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/phone"
)

// Auditor records audit events (*audit.Recorder).
type Auditor interface {
	Record(ev audit.Event)
}

// Settings configure the service.
type Settings struct {
	// Default is the agent built from the environment (ID DefaultID).
	Default Agent
	Limits  Limits
	// CheckURL refuses a tool URL (egress.CheckURL with the server's
	// APP_ENV and TOOL_ALLOWED_NETWORKS).
	CheckURL func(string) error
	// ServiceNumber is TWILIO_PHONE_NUMBER ("" accepts any To number).
	ServiceNumber string
	// NumbersTTL bounds how stale the number-to-agent snapshot used on
	// the webhook path may be when another instance changed it (changes
	// made through this instance apply at once). Zero: 5 seconds.
	NumbersTTL time.Duration
}

// Service holds the rules for agents, tools and numbers. It is safe for
// concurrent use.
type Service struct {
	store  Store
	audit  Auditor
	sealer *Sealer
	set    Settings
	now    func() time.Time

	// numbers is the number-to-agent snapshot the webhook path reads
	// without a lock; refreshing makes one caller at a time refresh it,
	// and cold shares one read among the callers that find none. No lock
	// is held while the database is read (STYLE.md habit 17): reloadGen
	// orders the reloads instead, so a read that started before a change
	// never replaces one that started after it.
	numbers    atomic.Pointer[numberSnapshot]
	refreshing atomic.Bool
	reloadGen  atomic.Uint64
	cold       singleflight.Group
}

// numberSnapshot is one read of the assignments; agents is nil when that
// read failed (the next call reads the database again).
type numberSnapshot struct {
	agents map[string]string // phone number -> agent id
	at     time.Time
	gen    uint64 // the reload that made it
}

// NewService returns the service.
func NewService(store Store, auditor Auditor, sealer *Sealer, set Settings) *Service {
	set.Default.ID = DefaultID
	if set.Default.Tools == nil {
		set.Default.Tools = slices.Clone(BuiltinTools)
	}
	if set.NumbersTTL == 0 {
		set.NumbersTTL = 5 * time.Second
	}
	if set.CheckURL == nil {
		set.CheckURL = func(string) error { return errors.New("tool URLs are not configured") }
	}
	return &Service{store: store, audit: auditor, sealer: sealer, set: set, now: time.Now}
}

func (s *Service) stamp() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) record(actor, kind, action, id string) {
	s.audit.Record(audit.Event{Type: audit.TypeAgentChange, Actor: actor, Detail: map[string]any{"kind": kind, "action": action, "id": id}})
}

// ---- agents

// Default returns the agent built from the environment.
func (s *Service) Default() Agent {
	a := s.set.Default
	a.Tools = slices.Clone(a.Tools)
	return a
}

// ListAgents returns the default agent first, then the stored ones by name.
func (s *Service) ListAgents(ctx context.Context) ([]Agent, error) {
	stored, err := s.store.ListAgents(ctx)
	if err != nil {
		return nil, err
	}
	return append([]Agent{s.Default()}, stored...), nil
}

// GetAgent returns one agent (DefaultID included) or apperr.NotFound.
func (s *Service) GetAgent(ctx context.Context, id string) (Agent, error) {
	if id == DefaultID || id == "" {
		return s.Default(), nil
	}
	if !idRE.MatchString(id) {
		return Agent{}, apperr.New(apperr.NotFound, "agent not found")
	}
	return s.store.GetAgent(ctx, id)
}

func (s *Service) checkTools(ctx context.Context, names []string) error {
	for _, n := range names {
		if Builtin(n) {
			continue
		}
		if !toolNameRE.MatchString(n) {
			return apperr.Errorf(apperr.Invalid, "unknown tool %q", truncate(n))
		}
		if _, err := s.store.GetTool(ctx, n); err != nil {
			if apperr.Is(err, apperr.NotFound) {
				return apperr.Errorf(apperr.Invalid, "unknown tool %q", n)
			}
			return err
		}
	}
	return nil
}

// CreateAgent validates and stores a new agent.
func (s *Service) CreateAgent(ctx context.Context, actor string, a Agent) (Agent, error) {
	if err := a.validate(s.set.Limits); err != nil {
		return Agent{}, err
	}
	if err := s.checkTools(ctx, a.Tools); err != nil {
		return Agent{}, err
	}
	a.ID = newAgentID()
	a.CreatedAt = s.stamp()
	a.UpdatedAt = a.CreatedAt
	if err := s.store.InsertAgent(ctx, a); err != nil {
		return Agent{}, err
	}
	s.record(actor, "agent", "create", a.ID)
	return a, nil
}

// UpdateAgent replaces an agent. The default agent answers Conflict.
func (s *Service) UpdateAgent(ctx context.Context, actor, id string, a Agent) (Agent, error) {
	if id == DefaultID {
		return Agent{}, apperr.New(apperr.Conflict, "the default agent comes from the environment (AGENT_*, REALTIME_*) and cannot be changed here")
	}
	old, err := s.GetAgent(ctx, id)
	if err != nil {
		return Agent{}, err
	}
	if err := a.validate(s.set.Limits); err != nil {
		return Agent{}, err
	}
	if err := s.checkTools(ctx, a.Tools); err != nil {
		return Agent{}, err
	}
	a.ID, a.CreatedAt, a.UpdatedAt = id, old.CreatedAt, s.stamp()
	if err := s.store.UpdateAgent(ctx, a); err != nil {
		return Agent{}, err
	}
	s.record(actor, "agent", "update", id)
	return a, nil
}

// DeleteAgent removes an agent no number uses.
func (s *Service) DeleteAgent(ctx context.Context, actor, id string) error {
	if id == DefaultID {
		return apperr.New(apperr.Conflict, "the default agent comes from the environment and cannot be deleted")
	}
	if !idRE.MatchString(id) {
		return apperr.New(apperr.NotFound, "agent not found")
	}
	if err := s.store.DeleteAgent(ctx, id); err != nil {
		return err
	}
	s.record(actor, "agent", "delete", id)
	return nil
}

// ---- tools

// ListTools returns every HTTP tool by name (never a secret).
func (s *Service) ListTools(ctx context.Context) ([]Tool, error) { return s.store.ListTools(ctx) }

// GetTool returns one HTTP tool.
func (s *Service) GetTool(ctx context.Context, name string) (Tool, error) {
	if !toolNameRE.MatchString(name) {
		return Tool{}, apperr.New(apperr.NotFound, "tool not found")
	}
	return s.store.GetTool(ctx, name)
}

// CreateTool validates and stores a tool with a new signing secret, which
// is returned here and never again.
func (s *Service) CreateTool(ctx context.Context, actor string, t Tool) (Tool, string, error) {
	if err := t.validate(s.set.CheckURL); err != nil {
		return Tool{}, "", err
	}
	t.CreatedAt = s.stamp()
	t.UpdatedAt = t.CreatedAt
	secret := newSecret()
	if err := s.store.InsertTool(ctx, t, s.sealer.Seal(t.Name, secret)); err != nil {
		return Tool{}, "", err
	}
	s.record(actor, "tool", "create", t.Name)
	return t, secret, nil
}

// UpdateTool replaces a tool's definition; its secret is kept.
func (s *Service) UpdateTool(ctx context.Context, actor, name string, t Tool) (Tool, error) {
	old, err := s.GetTool(ctx, name)
	if err != nil {
		return Tool{}, err
	}
	if t.Name == "" {
		t.Name = name
	}
	if t.Name != name {
		return Tool{}, apperr.New(apperr.Invalid, "name in the body does not match the path (a tool cannot be renamed)")
	}
	if err := t.validate(s.set.CheckURL); err != nil {
		return Tool{}, err
	}
	t.CreatedAt, t.UpdatedAt = old.CreatedAt, s.stamp()
	if err := s.store.UpdateTool(ctx, t); err != nil {
		return Tool{}, err
	}
	s.record(actor, "tool", "update", name)
	return t, nil
}

// RotateSecret gives the tool a new signing secret, returned once.
func (s *Service) RotateSecret(ctx context.Context, actor, name string) (string, error) {
	if _, err := s.GetTool(ctx, name); err != nil {
		return "", err
	}
	secret := newSecret()
	if err := s.store.SetToolSecret(ctx, name, s.sealer.Seal(name, secret), s.stamp()); err != nil {
		return "", err
	}
	s.record(actor, "tool", "rotate-secret", name)
	return secret, nil
}

// DeleteTool removes a tool no stored agent lists (apperr.Conflict).
func (s *Service) DeleteTool(ctx context.Context, actor, name string) error {
	if !toolNameRE.MatchString(name) {
		return apperr.New(apperr.NotFound, "tool not found")
	}
	as, err := s.store.ListAgents(ctx)
	if err != nil {
		return err
	}
	for _, a := range as {
		if slices.Contains(a.Tools, name) {
			return apperr.Errorf(apperr.Conflict, "agent %s uses the tool; remove it from the agent first", a.ID)
		}
	}
	if err := s.store.DeleteTool(ctx, name); err != nil {
		return err
	}
	s.record(actor, "tool", "delete", name)
	return nil
}

// Secret opens the tool's signing secret, for signing a request only.
func (s *Service) Secret(ctx context.Context, name string) ([]byte, error) {
	sealed, err := s.store.ToolSecret(ctx, name)
	if err != nil {
		return nil, err
	}
	sec, err := s.sealer.Open(name, sealed)
	if err != nil {
		return nil, err
	}
	return []byte(sec), nil
}

// ---- numbers

// ListNumbers returns every assigned number.
func (s *Service) ListNumbers(ctx context.Context) ([]Number, error) { return s.store.ListNumbers(ctx) }

// PutNumber assigns the number to an agent (created: a new assignment).
func (s *Service) PutNumber(ctx context.Context, actor, number, agentID string) (Number, bool, error) {
	n, err := phone.Normalize(number)
	if err != nil {
		return Number{}, false, apperr.New(apperr.Invalid, "phoneNumber must be an E.164 number such as +14155550123")
	}
	if agentID != DefaultID && !idRE.MatchString(agentID) {
		return Number{}, false, apperr.New(apperr.Invalid, "agentId must name an existing agent (agt_... or default)")
	}
	rec := Number{PhoneNumber: n, AgentID: agentID, UpdatedAt: s.stamp()}
	created, err := s.store.PutNumber(ctx, rec)
	if err != nil {
		if apperr.Is(err, apperr.NotFound) {
			return Number{}, false, apperr.New(apperr.Invalid, "agentId must name an existing agent (agt_... or default)")
		}
		return Number{}, false, err
	}
	s.reloadNumbers(ctx)
	s.record(actor, "number", "assign", rec.AgentID)
	return rec, created, nil
}

// DeleteNumber removes an assignment.
func (s *Service) DeleteNumber(ctx context.Context, actor, number string) error {
	n, err := phone.Normalize(number)
	if err != nil {
		return apperr.New(apperr.NotFound, "number not found")
	}
	if err := s.store.DeleteNumber(ctx, n); err != nil {
		return err
	}
	s.reloadNumbers(ctx)
	s.record(actor, "number", "unassign", "")
	return nil
}

// reloadNumbers reads the assignments again (after a change through this
// instance, so it applies here at once). On failure the snapshot is
// marked failed and the next call reads the database. The result is
// stored only if no reload that started later has stored one already.
func (s *Service) reloadNumbers(ctx context.Context) (*numberSnapshot, error) {
	gen := s.reloadGen.Add(1)
	ns, err := s.store.ListNumbers(ctx)
	next := &numberSnapshot{at: s.now(), gen: gen}
	if err == nil {
		next.agents = make(map[string]string, len(ns))
		for _, n := range ns {
			next.agents[n.PhoneNumber] = n.AgentID
		}
	}
	for {
		cur := s.numbers.Load()
		if cur != nil && cur.gen > gen {
			break // a newer read is in place
		}
		if s.numbers.CompareAndSwap(cur, next) {
			break
		}
	}
	if err != nil {
		return nil, err
	}
	return next, nil
}

// snapshot returns the number-to-agent map without a lock. A snapshot
// older than NumbersTTL (changes made by another instance) is refreshed
// by one caller at a time while the others keep using it; only the very
// first call waits for the database.
func (s *Service) snapshot(ctx context.Context) (map[string]string, error) {
	snap := s.numbers.Load()
	if snap == nil || snap.agents == nil {
		fresh, err, _ := s.cold.Do("numbers", func() (any, error) { return s.reloadNumbers(ctx) })
		if err != nil {
			return nil, err
		}
		return fresh.(*numberSnapshot).agents, nil
	}
	if s.now().Sub(snap.at) >= s.set.NumbersTTL && s.refreshing.CompareAndSwap(false, true) {
		defer s.refreshing.Store(false)
		if fresh, err := s.reloadNumbers(ctx); err == nil {
			return fresh.agents, nil
		}
	}
	return snap.agents, nil
}

// AgentFor decides which agent answers a call to the number to: the
// agent assigned to it, else the default agent. ok is false when to is
// not a service number (neither TWILIO_PHONE_NUMBER, when set, nor an
// assigned number); the call is then refused.
func (s *Service) AgentFor(ctx context.Context, to string) (agentID string, ok bool, err error) {
	m, err := s.snapshot(ctx)
	if err != nil {
		return "", false, err
	}
	if id, assigned := m[to]; assigned {
		return id, true, nil
	}
	if s.set.ServiceNumber == "" || to == s.set.ServiceNumber {
		return DefaultID, true, nil
	}
	return "", false, nil
}

// Assigned reports whether number is assigned to an agent, read from the
// database (not the webhook path's snapshot, which another instance's
// change may not have reached yet).
func (s *Service) Assigned(ctx context.Context, number string) (bool, error) {
	ns, err := s.store.ListNumbers(ctx)
	if err != nil {
		return false, err
	}
	for _, n := range ns {
		if n.PhoneNumber == number {
			return true, nil
		}
	}
	return false, nil
}

// ---- helpers

func newAgentID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("agents: crypto/rand failed: " + err.Error())
	}
	return "agt_" + hex.EncodeToString(b[:])
}

// ValidAgentID reports whether id is DefaultID or has the form agt_ + 24 hex.
func ValidAgentID(id string) bool { return id == DefaultID || idRE.MatchString(id) }

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
