package voice

import (
	"context"

	"github.com/voiceagent/voiceagent/internal/phone"
)

// decide runs the caller controls in order; the first rule that matches
// decides. Capacity is checked afterwards, atomically with storing the
// call (AdmitCall). A call no rule stops is accepted.
//
//  1. To is not a service number                   -> reject
//     (TWILIO_PHONE_NUMBER when set, or a number assigned to an agent)
//  2. deny list                                     -> reject
//  3. allow list non-empty and caller not on it     -> hangup (said)
//  4. FromCountry in BLOCKED_COUNTRIES              -> reject
//  5. caller-name policy (fails open)               -> reject
//  6. CALLS_PER_MINUTE per caller, then for all     -> busy
//  7. MAX_CONCURRENT_CALLS                          -> busy
//
// The To check comes first because it costs nothing and a call that is
// not for this number must not spend a lookup or throttling budget.
func (s *Service) decide(ctx context.Context, in *Inbound, th Throttle) (Decision, string, error) {
	if s.numbers != nil {
		id, ok, err := s.numbers.AgentFor(ctx, in.To)
		if err != nil {
			return "", "", err
		}
		if !ok {
			return Reject, ReasonWrongNumber, nil
		}
		in.agentID = id
	} else if s.settings.PhoneNumber != "" && in.To != s.settings.PhoneNumber {
		return Reject, ReasonWrongNumber, nil
	}
	st, err := s.lists.CallerStatus(ctx, in.From)
	if err != nil {
		return "", "", err
	}
	if in.From != "" && st.Blocked {
		return Reject, ReasonBlockedNumber, nil
	}
	if st.AllowListInUse && (in.From == "" || !st.Allowed) {
		return Hangup, ReasonNotAllowed, nil
	}
	if in.FromCountry != "" && s.countries[in.FromCountry] {
		return Reject, ReasonBlockedCountry, nil
	}
	if reason := s.callerNameRule(ctx, in); reason != "" {
		return Reject, reason, nil
	}
	if th != nil {
		key := in.From
		if key == "" {
			key = "anonymous"
		}
		if reason := th.Throttled(key); reason != "" {
			return Busy, reason, nil
		}
	}
	return Accept, ReasonNone, nil
}

// callerNameRule applies CALLER_NAME_POLICY. The name Twilio sent with the
// webhook (Caller ID Lookup on the number) is used when present for
// block-unknown; otherwise Lookup v2 is asked, with a short timeout and a
// cache. A failed lookup never blocks the call.
func (s *Service) callerNameRule(ctx context.Context, in *Inbound) string {
	policy := s.settings.CallerNamePolicy
	if policy == NamePolicyOff {
		return ""
	}
	if in.From == "" {
		// Anonymous callers have no name to look up.
		if policy == NamePolicyBlockUnknown {
			return ReasonCallerUnknown
		}
		return ReasonCallerNotBiz
	}
	if policy == NamePolicyBlockUnknown && in.CallerName != "" {
		return ""
	}
	info, ok := s.names.lookup(ctx, in.From)
	if !ok {
		s.log.Warn("caller-name lookup failed; call let through", "call_sid", in.CallSID)
		return ""
	}
	if in.CallerName == "" {
		in.CallerName = CleanCallerName(info.name)
	}
	switch policy {
	case NamePolicyBlockUnknown:
		if info.name == "" {
			return ReasonCallerUnknown
		}
	case NamePolicyBusinessOnly:
		if info.callerType != "BUSINESS" {
			return ReasonCallerNotBiz
		}
	}
	return ""
}

// e164OrEmpty returns s when it is E.164; withheld or malformed numbers
// ("anonymous", "Restricted", "") become "", an anonymous caller.
func e164OrEmpty(s string) string {
	if phone.Valid(s) {
		return s
	}
	return ""
}
