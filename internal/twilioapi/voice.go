package twilioapi

import (
	"context"

	api "github.com/twilio/twilio-go/rest/api/v2010"
)

// UpdateCallTwiML replaces what a live call is doing with the given TwiML
// document (e.g. move it into a conference, or forward it). twiml must be a
// complete <Response> (Twilio limits inline TwiML to about 4,000 characters).
func (c *Client) UpdateCallTwiML(ctx context.Context, callSID, twiml string) error {
	_, err := c.API(ctx).UpdateCall(callSID, (&api.UpdateCallParams{}).SetTwiml(twiml))
	return wrap("update call", err)
}

// HangUp ends a live call (status completed). DeleteCall would only remove
// the call log record.
func (c *Client) HangUp(ctx context.Context, callSID string) error {
	_, err := c.API(ctx).UpdateCall(callSID, (&api.UpdateCallParams{}).SetStatus("completed"))
	return wrap("hang up call", err)
}

// ParticipantRequest describes a number to dial into a conference.
type ParticipantRequest struct {
	Conference string // friendly name (conf_<CallSid>) or CF SID
	From       string // E.164 caller ID (TWILIO_OUTBOUND_NUMBER)
	To         string // E.164 target
	Label      string // optional participant label
	// StatusCallback receives the conference events; it is set on the
	// participant too because the conference may be created by whichever
	// participant joins first.
	StatusCallback string
	Timeout        int // ring seconds, 5..600 (0: Twilio's default)
}

// Participant is what Twilio answered about a dialed participant: only
// the SIDs voiceagent stores.
type Participant struct {
	CallSID       string
	ConferenceSID string
}

// ConferenceEvents are the conference status callback events voiceagent
// asks for, as TwiML/REST tokens.
var ConferenceEvents = []string{"start", "end", "join", "leave", "mute", "hold", "modify"}

// AddParticipant dials req.To into the conference (creating it when the
// friendly name does not exist yet).
func (c *Client) AddParticipant(ctx context.Context, req ParticipantRequest) (Participant, error) {
	p := (&api.CreateParticipantParams{}).
		SetFrom(req.From).
		SetTo(req.To).
		SetEndConferenceOnExit(false).
		SetStartConferenceOnEnter(true).
		SetBeep("false")
	if req.Label != "" {
		p.SetLabel(req.Label)
	}
	if req.Timeout > 0 {
		p.SetTimeout(req.Timeout)
	}
	if req.StatusCallback != "" {
		p.SetConferenceStatusCallback(req.StatusCallback).
			SetConferenceStatusCallbackMethod("POST").
			SetConferenceStatusCallbackEvent(ConferenceEvents)
	}
	res, err := c.API(ctx).CreateParticipant(req.Conference, p)
	if err != nil {
		return Participant{}, wrap("add participant", err)
	}
	var out Participant
	if res.CallSid != nil {
		out.CallSID = *res.CallSid
	}
	if res.ConferenceSid != nil {
		out.ConferenceSID = *res.ConferenceSid
	}
	return out, nil
}

// RemoveParticipant hangs a participant up (conference CF SID and the
// participant's call SID).
func (c *Client) RemoveParticipant(ctx context.Context, conferenceSID, callSID string) error {
	err := c.API(ctx).DeleteParticipant(conferenceSID, callSID, &api.DeleteParticipantParams{})
	return wrap("remove participant", err)
}

// EndConference sets the conference's status to completed, which hangs up
// every participant.
func (c *Client) EndConference(ctx context.Context, conferenceSID string) error {
	_, err := c.API(ctx).UpdateConference(conferenceSID, (&api.UpdateConferenceParams{}).SetStatus("completed"))
	return wrap("end conference", err)
}

// FindLiveConference returns the CF SID of the in-progress conference with
// the friendly name, or "" when none is live. Names must not contain dots
// (twilio-go drops ".<digits>" from query values).
func (c *Client) FindLiveConference(ctx context.Context, friendlyName string) (string, error) {
	list, err := c.API(ctx).ListConference((&api.ListConferenceParams{}).
		SetFriendlyName(friendlyName).SetStatus("in-progress").SetLimit(20))
	if err != nil {
		return "", wrap("list conferences", err)
	}
	for _, cf := range list {
		if cf.Sid != nil && cf.FriendlyName != nil && *cf.FriendlyName == friendlyName {
			return *cf.Sid, nil
		}
	}
	return "", nil
}
