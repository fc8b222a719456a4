package outbound

import (
	"fmt"
	"slices"
	"strings"
	"time"
	// The callee's zones are named by libphonenumber; the binary carries
	// the zone database so a container without /usr/share/zoneinfo (the
	// distroless image) still knows them.
	_ "time/tzdata"

	"github.com/nyaruka/phonenumbers"
)

// QuietHours is the daily window, in the callee's local time, when no call
// is placed (OUTBOUND_QUIET_HOURS, default 21:00-08:00). The window may
// wrap midnight. A nil *QuietHours is off.
type QuietHours struct {
	start, end int // minutes after local midnight; start != end
}

// ParseQuietHours reads "HH:MM-HH:MM" (24-hour clock); "off" is nil.
func ParseQuietHours(s string) (*QuietHours, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, "off") {
		return nil, nil
	}
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return nil, fmt.Errorf("must be HH:MM-HH:MM (e.g. 21:00-08:00) or off")
	}
	start, err1 := clock(a)
	end, err2 := clock(b)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("must be HH:MM-HH:MM (e.g. 21:00-08:00) or off")
	}
	if start == end {
		return nil, fmt.Errorf("start and end must differ (use off to allow calls at any hour)")
	}
	return &QuietHours{start: start, end: end}, nil
}

func clock(s string) (int, error) {
	t, err := time.Parse("15:04", strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	return t.Hour()*60 + t.Minute(), nil
}

// String is the window as configured, e.g. "21:00-08:00".
func (q *QuietHours) String() string {
	if q == nil {
		return "off"
	}
	return fmt.Sprintf("%02d:%02d-%02d:%02d", q.start/60, q.start%60, q.end/60, q.end%60)
}

// quiet reports whether the local time of t falls in the window.
func (q *QuietHours) quiet(t time.Time) bool {
	m := t.Hour()*60 + t.Minute()
	if q.start < q.end {
		return m >= q.start && m < q.end
	}
	return m >= q.start || m < q.end
}

// Zones are the IANA time zones libphonenumber gives for an E.164 number
// (one for most numbers, every zone of the country when the number does
// not narrow it down). Unknown zones are an error.
func Zones(number string) ([]*time.Location, error) {
	num, err := phonenumbers.Parse(number, "")
	if err != nil {
		return nil, err
	}
	names, err := phonenumbers.GetTimezonesForNumber(num)
	if err != nil {
		return nil, err
	}
	var out []*time.Location
	for _, n := range names {
		if n == "" || n == "Etc/Unknown" {
			return nil, fmt.Errorf("no known time zone")
		}
		loc, err := time.LoadLocation(n)
		if err != nil {
			return nil, fmt.Errorf("time zone %s: %w", n, err)
		}
		out = append(out, loc)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no known time zone")
	}
	return out, nil
}

// Allowed reports whether a call at now is outside quiet hours in every
// one of zones. When it is not, next is the earliest instant (within the
// next three days) at which it is in all of them, or the zero time when
// the zones are so far apart that no instant is.
func (q *QuietHours) Allowed(zones []*time.Location, now time.Time) (ok bool, next time.Time) {
	if q == nil {
		return true, time.Time{}
	}
	inAll := func(t time.Time) bool {
		for _, z := range zones {
			if q.quiet(t.In(z)) {
				return false
			}
		}
		return true
	}
	if inAll(now) {
		return true, time.Time{}
	}
	// The window can only open when a zone's quiet hours end: try each
	// zone's next ends in order.
	var ends []time.Time
	for _, z := range zones {
		l := now.In(z)
		for d := 0; d <= 3; d++ {
			t := time.Date(l.Year(), l.Month(), l.Day()+d, q.end/60, q.end%60, 0, 0, z)
			if t.After(now) {
				ends = append(ends, t)
			}
		}
	}
	slices.SortFunc(ends, func(a, b time.Time) int { return a.Compare(b) })
	for _, t := range ends {
		if inAll(t) {
			return false, t.UTC()
		}
	}
	return false, time.Time{}
}
