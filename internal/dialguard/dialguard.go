// Package dialguard holds the toll-fraud rules for every number the system
// dials (the agent's transfer tools and the operator API's conference and
// forward routes both reach it through the conference service): strict
// E.164, the service's own numbers refused, deny-list entries that may be
// prefixes, a default list of high-cost prefixes, high-cost number types
// and dialled countries limited to an allowed set. Countries and number
// types come from github.com/nyaruka/phonenumbers (libphonenumber's
// metadata), never from hand-written tables.
package dialguard

import (
	"fmt"
	"strings"

	"github.com/nyaruka/phonenumbers"

	"github.com/voiceagent/voiceagent/internal/phone"
)

// DefaultHighCost are the prefixes refused unless DIAL_HIGH_COST_PREFIXES
// replaces them. Sources:
//   - +881, +882, +883, +870: ITU-T E.164 assigned codes for the Global
//     Mobile Satellite System, International Networks and Inmarsat (list of
//     ITU-T Recommendation E.164 assigned country codes, annex to the ITU
//     Operational Bulletin): satellite and network ranges billed far above
//     any landline, the usual targets of international revenue-share fraud.
//   - +979 (International Premium Rate Service) and +808 (International
//     Shared Cost Service): the same ITU list.
//   - +1900: the NANP premium-rate service access code (NANPA, "900 NXX
//     codes"); libphonenumber also types most of these PREMIUM_RATE.
//   - +449: UK 09 premium-rate services (Ofcom, National Telephone
//     Numbering Plan).
var DefaultHighCost = []string{"+881", "+882", "+883", "+870", "+979", "+808", "+1900", "+449"}

// refusedTypes are libphonenumber number types that cost the caller's
// account more than an ordinary call (or pass the cost on in ways the
// operator does not see): premium rate, shared cost, personal numbers
// (UK 070, often premium-priced).
var refusedTypes = map[phonenumbers.PhoneNumberType]string{
	phonenumbers.PREMIUM_RATE:    "premium_rate",
	phonenumbers.SHARED_COST:     "shared_cost",
	phonenumbers.PERSONAL_NUMBER: "personal_number",
}

// Reasons a number is refused (audit details and logs; never told to a
// caller beyond "cannot be dialled").
const (
	ReasonInvalid   = "invalid_number"
	ReasonOwnNumber = "own_number"
	ReasonDenyList  = "deny_list"
	ReasonHighCost  = "high_cost_prefix"
	ReasonType      = "high_cost_type"
	ReasonCountry   = "country_not_allowed"
)

// Settings configure a Guard.
type Settings struct {
	// Deny are exact E.164 numbers or prefixes written "+1900*".
	Deny []string
	// HighCost are prefixes ("+882" or "+882*"); nil means
	// DefaultHighCost, an empty non-nil slice none.
	HighCost []string
	// OwnNumbers are the service's own numbers, never a target; the first
	// with a known country sets the allowed country when Countries is empty.
	OwnNumbers []string
	// Countries are the ISO 3166 alpha-2 codes that may be dialled; "*"
	// alone allows every country (number types and prefixes still apply).
	Countries []string
}

// Guard decides whether a number may be dialled. It is immutable and safe
// for concurrent use.
type Guard struct {
	exact     map[string]bool
	prefixes  []string // deny-list prefixes, without '*'
	highCost  []string
	own       map[string]bool
	countries map[string]bool // nil: any country
}

// New checks the settings and builds the guard.
func New(s Settings) (*Guard, error) {
	g := &Guard{exact: map[string]bool{}, own: map[string]bool{}}
	for _, e := range s.Deny {
		exact, prefix, err := ParseEntry(e)
		if err != nil {
			return nil, err
		}
		if prefix != "" {
			g.prefixes = append(g.prefixes, prefix)
		} else {
			g.exact[exact] = true
		}
	}
	hc := s.HighCost
	if hc == nil {
		hc = DefaultHighCost
	}
	for _, e := range hc {
		p, err := ParsePrefix(e)
		if err != nil {
			return nil, err
		}
		g.highCost = append(g.highCost, p)
	}
	for _, n := range s.OwnNumbers {
		if n != "" {
			g.own[n] = true
		}
	}
	switch {
	case len(s.Countries) == 1 && s.Countries[0] == "*":
	case len(s.Countries) > 0:
		g.countries = map[string]bool{}
		for _, c := range s.Countries {
			c = strings.ToUpper(strings.TrimSpace(c))
			if len(c) != 2 || phonenumbers.GetCountryCodeForRegion(c) == 0 {
				return nil, fmt.Errorf("%q is not an ISO 3166 alpha-2 country code with a calling code", c)
			}
			g.countries[c] = true
		}
	default:
		for _, n := range s.OwnNumbers {
			if r := Region(n); r != "" && r != "001" {
				g.countries = map[string]bool{r: true}
				break
			}
		}
	}
	return g, nil
}

// Check reports why number may not be dialled ("" when it may).
func (g *Guard) Check(number string) (reason string) {
	if !phone.Valid(number) {
		return ReasonInvalid
	}
	if g.own[number] {
		return ReasonOwnNumber
	}
	if g.exact[number] {
		return ReasonDenyList
	}
	for _, p := range g.prefixes {
		if strings.HasPrefix(number, p) {
			return ReasonDenyList
		}
	}
	for _, p := range g.highCost {
		if strings.HasPrefix(number, p) {
			return ReasonHighCost
		}
	}
	// A length the country's plan cannot hold is no number to dial
	// (libphonenumber's possible-number check).
	num, err := phonenumbers.Parse(number, "")
	if err != nil || !phonenumbers.IsPossibleNumber(num) {
		return ReasonInvalid
	}
	if _, bad := refusedTypes[phonenumbers.GetNumberType(num)]; bad {
		return ReasonType
	}
	if g.countries != nil && !g.countries[regionOf(num)] {
		return ReasonCountry
	}
	return ""
}

// Region is the ISO 3166 alpha-2 country of an E.164 number, "001" for
// non-geographic ranges, "" when unknown.
func Region(number string) string {
	num, err := phonenumbers.Parse(number, "")
	if err != nil {
		return ""
	}
	return regionOf(num)
}

// regionOf is the number's region, or the main region of its country code
// when the number itself matches none (reserved and fictional ranges).
func regionOf(num *phonenumbers.PhoneNumber) string {
	if r := phonenumbers.GetRegionCodeForNumber(num); r != "" && r != "ZZ" {
		return r
	}
	r := phonenumbers.GetRegionCodeForCountryCode(int(num.GetCountryCode()))
	if r == "ZZ" {
		return ""
	}
	return r
}

// ParseEntry reads a deny-list entry: an exact E.164 number, or a prefix
// "+1900*" (a plus, 1 to 15 digits, a star).
func ParseEntry(e string) (exact, prefix string, err error) {
	e = strings.TrimSpace(e)
	if strings.HasSuffix(e, "*") {
		p, err := ParsePrefix(e)
		return "", p, err
	}
	if !phone.Valid(e) {
		return "", "", fmt.Errorf("%q is neither an E.164 number nor a prefix such as +1900*", truncate(e))
	}
	return e, "", nil
}

// ParsePrefix reads "+882" or "+882*".
func ParsePrefix(e string) (string, error) {
	p := strings.TrimSuffix(strings.TrimSpace(e), "*")
	ok := len(p) >= 2 && len(p) <= 16 && p[0] == '+' && p[1] != '0'
	for i := 1; ok && i < len(p); i++ {
		ok = p[i] >= '0' && p[i] <= '9'
	}
	if !ok {
		return "", fmt.Errorf("%q is not a prefix such as +882 or +1900*", truncate(e))
	}
	return p, nil
}

func truncate(s string) string {
	if len(s) > 24 {
		return s[:24] + "..."
	}
	return s
}
