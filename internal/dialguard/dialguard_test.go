package dialguard_test

import (
	"testing"

	"github.com/nyaruka/phonenumbers"

	"github.com/voiceagent/voiceagent/internal/dialguard"
)

const (
	service  = "+15555550199" // the service's number (reserved 555-01xx)
	outbound = "+15555550198"
	contact  = "+14155550123"
)

// example is libphonenumber's own example number of a type in a region, in
// E.164, so no real number is written into the test.
func example(t *testing.T, region string, typ phonenumbers.PhoneNumberType) string {
	t.Helper()
	n := phonenumbers.GetExampleNumberForType(region, typ)
	if n == nil {
		t.Fatalf("no example %v number for %s", typ, region)
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

func nonGeo(t *testing.T, code int) string {
	t.Helper()
	n := phonenumbers.GetExampleNumberForNonGeoEntity(code)
	if n == nil {
		t.Fatalf("no example number for +%d", code)
	}
	return phonenumbers.Format(n, phonenumbers.E164)
}

func guard(t *testing.T, s dialguard.Settings) *dialguard.Guard {
	t.Helper()
	g, err := dialguard.New(s)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// TestGuardRefusesTollFraudTargets: the review's examples and the rest of
// the rules, each with its reason.
func TestGuardRefusesTollFraudTargets(t *testing.T) {
	g := guard(t, dialguard.Settings{
		Deny:       []string{"+19005550100", "+1555555*"},
		OwnNumbers: []string{service, outbound},
	})
	for _, tc := range []struct {
		name, number, reason string
	}{
		{"lenient form of a premium number", "900-555-0100", dialguard.ReasonInvalid},
		{"digits without plus", "19005550100", dialguard.ReasonInvalid},
		{"spaces", "+1 415 555 0123", dialguard.ReasonInvalid},
		{"the service's own number", service, dialguard.ReasonOwnNumber},
		{"the outbound number", outbound, dialguard.ReasonOwnNumber},
		{"exact deny entry", "+19005550100", dialguard.ReasonDenyList},
		{"prefix deny entry", "+15555550142", dialguard.ReasonDenyList},
		{"NANP premium next to a listed number", "+19005550101", dialguard.ReasonHighCost},
		{"international networks +882", nonGeo(t, 882), dialguard.ReasonHighCost},
		{"international networks +883", nonGeo(t, 883), dialguard.ReasonHighCost},
		{"satellite +881", nonGeo(t, 881), dialguard.ReasonHighCost},
		{"Inmarsat +870", nonGeo(t, 870), dialguard.ReasonHighCost},
		{"UK premium rate", example(t, "GB", phonenumbers.PREMIUM_RATE), dialguard.ReasonHighCost},
		{"Jamaica shares +1 but is another country", example(t, "JM", phonenumbers.FIXED_LINE), dialguard.ReasonCountry},
		{"another country", example(t, "DE", phonenumbers.FIXED_LINE), dialguard.ReasonCountry},
	} {
		if got := g.Check(tc.number); got != tc.reason {
			t.Errorf("%s: Check = %q, want %q", tc.name, got, tc.reason)
		}
	}
	for _, ok := range []string{contact, example(t, "US", phonenumbers.FIXED_LINE), example(t, "US", phonenumbers.MOBILE)} {
		if got := g.Check(ok); got != "" {
			t.Errorf("Check(%s) = %q, want allowed", ok, got)
		}
	}
}

// TestGuardNumberTypes: premium-rate and shared-cost numbers are refused
// by their type even when no prefix lists them.
func TestGuardNumberTypes(t *testing.T) {
	g := guard(t, dialguard.Settings{HighCost: []string{}, Countries: []string{"GB", "DE", "FR"}})
	for _, n := range []string{
		example(t, "GB", phonenumbers.PREMIUM_RATE),
		example(t, "FR", phonenumbers.SHARED_COST),
		example(t, "DE", phonenumbers.PREMIUM_RATE),
	} {
		if got := g.Check(n); got != dialguard.ReasonType {
			t.Errorf("Check(%s) = %q, want %q", n, got, dialguard.ReasonType)
		}
	}
	if got := g.Check(example(t, "GB", phonenumbers.FIXED_LINE)); got != "" {
		t.Errorf("GB landline refused: %q", got)
	}
}

// TestGuardCountries: the allowed countries default to the own number's,
// can be listed, or opened with "*"; an override of the high-cost list
// replaces the default.
func TestGuardCountries(t *testing.T) {
	de := example(t, "DE", phonenumbers.FIXED_LINE)
	if got := guard(t, dialguard.Settings{OwnNumbers: []string{service}}).Check(de); got != dialguard.ReasonCountry {
		t.Errorf("default countries: %q", got)
	}
	if got := guard(t, dialguard.Settings{OwnNumbers: []string{service}, Countries: []string{"US", "DE"}}).Check(de); got != "" {
		t.Errorf("listed country refused: %q", got)
	}
	any := guard(t, dialguard.Settings{Countries: []string{"*"}})
	if got := any.Check(de); got != "" {
		t.Errorf("any country: %q", got)
	}
	if got := any.Check(nonGeo(t, 882)); got != dialguard.ReasonHighCost {
		t.Errorf("any country still refuses +882: %q", got)
	}
	custom := guard(t, dialguard.Settings{HighCost: []string{"+4930*"}, Countries: []string{"*"}})
	if got := custom.Check(nonGeo(t, 882)); got != "" {
		t.Errorf("overridden list still refuses +882: %q", got)
	}
	if got := custom.Check("+4930123456"); got != dialguard.ReasonHighCost {
		t.Errorf("custom prefix: %q", got)
	}
}

func TestGuardSettingsAreChecked(t *testing.T) {
	for _, s := range []dialguard.Settings{
		{Deny: []string{"+1900**"}},
		{Deny: []string{"1900*"}},
		{Deny: []string{"call me"}},
		{HighCost: []string{"882"}},
		{Countries: []string{"USA"}},
		{Countries: []string{"ZZ"}},
	} {
		if _, err := dialguard.New(s); err == nil {
			t.Errorf("New(%+v) accepted", s)
		}
	}
}

// TestGuardRefusesImpossibleNumbers: an E.164-shaped string whose length
// its country's plan does not allow (a digit short or long of a North
// American number) is not a number to dial, whatever the countries
// allowed.
func TestGuardRefusesImpossibleNumbers(t *testing.T) {
	g := guard(t, dialguard.Settings{OwnNumbers: []string{service}, Countries: []string{"*"}})
	for _, n := range []string{"+1415555012", "+141555501230", "+1876555012"} {
		if got := g.Check(n); got != dialguard.ReasonInvalid {
			t.Errorf("Check(%s) = %q, want %q", n, got, dialguard.ReasonInvalid)
		}
	}
	if got := g.Check(contact); got != "" {
		t.Errorf("Check(%s) = %q, want it dialable", contact, got)
	}
}
