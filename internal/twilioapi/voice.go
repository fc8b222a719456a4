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

// ConferenceEvents are the conference status callback events voiceagent
// asks for, as TwiML/REST tokens.
var ConferenceEvents = []string{"start", "end", "join", "leave", "mute", "hold", "modify"}

// RingTimeout is how long a dialled participant rings, in seconds.
const RingTimeout = 30

// AddParticipant dials to (E.164) into the conference named conference
// (friendly name conf_<CallSid> or CF SID; a new friendly name creates the
// conference) with from as caller ID. statusCallback, when set, receives
// the conference events; it is set on the participant too because the
// conference may be created by whichever participant joins first. It
// returns the participant's call SID and the conference's CF SID.
func (c *Client) AddParticipant(ctx context.Context, conference, from, to, statusCallback string) (callSID, conferenceSID string, err error) {
	p := (&api.CreateParticipantParams{}).
		SetFrom(from).
		SetTo(to).
		SetTimeout(RingTimeout).
		SetEndConferenceOnExit(false).
		SetStartConferenceOnEnter(true).
		SetBeep("false")
	if statusCallback != "" {
		p.SetConferenceStatusCallback(statusCallback).
			SetConferenceStatusCallbackMethod("POST").
			SetConferenceStatusCallbackEvent(ConferenceEvents)
	}
	res, err := c.API(ctx).CreateParticipant(conference, p)
	if err != nil {
		return "", "", wrap("add participant", err)
	}
	if res.CallSid != nil {
		callSID = *res.CallSid
	}
	if res.ConferenceSid != nil {
		conferenceSID = *res.ConferenceSid
	}
	return callSID, conferenceSID, nil
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

// OutboundRingTimeout is how long an outbound call rings, in seconds.
const OutboundRingTimeout = 30

// OutboundCall is a call for Twilio to place (POST .../Calls.json).
type OutboundCall struct {
	To, From string
	// URL is fetched with POST when the callee answers; StatusCallback
	// gets the initiated, ringing, answered and completed events.
	URL, StatusCallback string
	// MachineDetection sends MachineDetection=Enable: the answering
	// webhook then carries AnsweredBy.
	MachineDetection bool
}

// StatusEvents are the call progress events asked for outbound calls.
var StatusEvents = []string{"initiated", "ringing", "answered", "completed"}

// CreateCall has Twilio place a call and returns its CallSid and status
// (queued).
func (c *Client) CreateCall(ctx context.Context, o OutboundCall) (callSID, status string, err error) {
	p := (&api.CreateCallParams{}).
		SetTo(o.To).
		SetFrom(o.From).
		SetUrl(o.URL).
		SetMethod("POST").
		SetStatusCallback(o.StatusCallback).
		SetStatusCallbackMethod("POST").
		SetStatusCallbackEvent(StatusEvents).
		SetTimeout(OutboundRingTimeout)
	if o.MachineDetection {
		p.SetMachineDetection("Enable")
	}
	res, err := c.API(ctx).CreateCall(p)
	if err != nil {
		return "", "", wrap("create call", err)
	}
	if res.Sid != nil {
		callSID = *res.Sid
	}
	if res.Status != nil {
		status = *res.Status
	}
	return callSID, status, nil
}
