package app

import (
	"context"
	"errors"
	"fmt"

	"github.com/voiceagent/voiceagent/internal/conference"
	"github.com/voiceagent/voiceagent/internal/contacts"
	"github.com/voiceagent/voiceagent/internal/dialguard"
	"github.com/voiceagent/voiceagent/internal/relay"
	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/twilioapi"
)

// buildOperator wires the operator API's services: the Twilio REST client
// (nil when no REST credentials are set) and contacts; buildConferences
// follows the voice service.
func (a *App) buildOperator(opts Options) error {
	cfg := a.Config
	tw, err := twilioapi.New(twilioapi.Credentials{
		AccountSID: cfg.TwilioAccountSID,
		AuthToken:  cfg.TwilioAuthToken,
		APIKey:     cfg.TwilioAPIKey,
		APISecret:  cfg.TwilioAPISecret,
	}, opts.TwilioHTTPClient)
	switch {
	case errors.Is(err, twilioapi.ErrNotConfigured):
		tw = nil
	case err != nil:
		return fmt.Errorf("twilio client: %w", err)
	}
	a.Twilio = tw

	a.Contacts = contacts.NewService(a.DB.Contacts(), a.Audit)
	return nil
}

// buildConferences wires the conference service, after the voice service:
// hand-overs are recorded through it (voice.EndCall), and dialled numbers
// are checked against the caller store's deny list.
func (a *App) buildConferences() error {
	cfg := a.Config
	settings := conference.Settings{
		OutboundNumber: cfg.TwilioOutboundNumber,
		Blocked:        cfg.CallerBlacklist,
	}
	if settings.OutboundNumber == "" {
		settings.OutboundNumber = cfg.TwilioPhoneNumber
	}
	guard, err := dialguard.New(cfg.DialGuardSettings())
	if err != nil {
		return fmt.Errorf("dial guard: %w", err)
	}
	settings.Guard = guard
	// Numbers assigned to agents are service numbers too (a.Agents is
	// built after this, before any call).
	settings.Assigned = func(ctx context.Context, number string) (bool, error) {
		if a.Agents == nil {
			return false, nil
		}
		return a.Agents.Assigned(ctx, number)
	}
	if cfg.PublicURL != nil {
		settings.EventsURL = cfg.PublicURL.JoinPath("/conference/events").String()
	}
	var twc conference.Twilio
	if a.Twilio != nil {
		twc = a.Twilio
	}
	a.Conferences = conference.NewService(a.DB.Conferences(), a.Voice, a.DB.Callers(), twc, a.Audit, a.Log, settings)
	return nil
}

// directory adapts the contacts service to the relay's Directory.
type directory struct{ svc *contacts.Service }

var _ relay.Directory = directory{}

// FindContact implements relay.Directory.
func (d directory) FindContact(ctx context.Context, nameOrAlias string) (relay.Contact, error) {
	c, err := d.svc.FindByNameOrAlias(ctx, nameOrAlias)
	if err != nil {
		return relay.Contact{}, err
	}
	return relay.Contact{Name: c.Name, PhoneNumber: c.PhoneNumber}, nil
}

// ContactByNumber implements relay.Directory.
func (d directory) ContactByNumber(ctx context.Context, number string) (relay.Contact, error) {
	c, err := d.svc.ByNumber(ctx, number)
	if err != nil {
		return relay.Contact{}, err
	}
	return relay.Contact{Name: c.Name, PhoneNumber: c.PhoneNumber}, nil
}

var (
	_ relay.Telephony = (*conference.Service)(nil)
	_ relay.DenyList  = (*store.CallerStore)(nil)
)
