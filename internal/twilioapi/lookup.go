package twilioapi

import (
	"context"

	lookups "github.com/twilio/twilio-go/rest/lookups/v2"
)

// LookupCallerName asks Lookup v2 for the registered caller name (CNAM) of
// number (E.164). callerType is "BUSINESS", "CONSUMER" or "" (unknown);
// name is "" when Twilio knows none. Lookups are billed per request:
// callers cache the answer. The deadline comes from ctx.
func (c *Client) LookupCallerName(ctx context.Context, number string) (name, callerType string, err error) {
	res, err := c.Lookups(ctx).FetchPhoneNumber(number, (&lookups.FetchPhoneNumberParams{}).SetFields("caller_name"))
	if err != nil {
		return "", "", wrap("lookup caller name", err)
	}
	if res == nil {
		return "", "", nil
	}
	return res.CallerName.CallerName, res.CallerName.CallerType, nil
}
