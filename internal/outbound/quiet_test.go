package outbound

import (
	"testing"
	"time"
)

func TestParseQuietHours(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"21:00-08:00", "21:00-08:00"}, {" 22:30 - 07:15 ", "22:30-07:15"}, {"01:00-05:00", "01:00-05:00"}, {"off", "off"}, {"OFF", "off"},
	} {
		q, err := ParseQuietHours(tc.in)
		if err != nil || q.String() != tc.want {
			t.Errorf("ParseQuietHours(%q) = %v, %v; want %s", tc.in, q, err, tc.want)
		}
	}
	for _, bad := range []string{"", "21:00", "21-08", "25:00-08:00", "21:00-08:60", "08:00-08:00", "9pm-8am"} {
		if _, err := ParseQuietHours(bad); err == nil {
			t.Errorf("ParseQuietHours(%q) accepted", bad)
		}
	}
}

// TestQuietHoursZones: a number in one zone is judged there; a number
// spanning several zones only when every zone is outside quiet hours,
// and the earliest allowed time is when the last zone's night ends.
func TestQuietHoursZones(t *testing.T) {
	q, _ := ParseQuietHours("21:00-08:00")
	la, _ := Zones("+14155550123")
	if len(la) != 1 || la[0].String() != "America/Los_Angeles" {
		t.Fatalf("zones of a 415 number = %v", la)
	}
	// 07:59 in Los Angeles (PST, UTC-8): quiet until 08:00.
	now := time.Date(2026, 12, 8, 15, 59, 0, 0, time.UTC)
	ok, next := q.Allowed(la, now)
	if ok || !next.Equal(time.Date(2026, 12, 8, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("07:59 LA = %v %v", ok, next)
	}
	if ok, _ := q.Allowed(la, now.Add(time.Minute)); !ok {
		t.Fatal("08:00 LA refused")
	}
	if ok, _ := q.Allowed(la, time.Date(2026, 12, 9, 4, 59, 0, 0, time.UTC)); !ok { // 20:59 LA
		t.Fatal("20:59 LA refused")
	}
	// New York and Los Angeles together: 08:30 in New York is 05:30 in
	// Los Angeles, so the call waits for 08:00 there (16:00Z in winter).
	ny, _ := Zones("+12125550199")
	both := append(ny, la...)
	ok, next = q.Allowed(both, time.Date(2026, 12, 8, 13, 30, 0, 0, time.UTC))
	if ok || !next.Equal(time.Date(2026, 12, 8, 16, 0, 0, 0, time.UTC)) {
		t.Fatalf("NY+LA at 08:30 NY = %v %v", ok, next)
	}
	// Summer time moves the answer by the hour (PDT, UTC-7).
	ok, next = q.Allowed(la, time.Date(2026, 7, 8, 14, 0, 0, 0, time.UTC))
	if ok || !next.Equal(time.Date(2026, 7, 8, 15, 0, 0, 0, time.UTC)) {
		t.Fatalf("07:00 PDT = %v %v", ok, next)
	}
	// Every zone of the North American plan (a number that does not
	// narrow it down, Guam to Newfoundland): at 20:00Z it is 06:00 in
	// Guam; the call may go at 08:00 there, when St. John's is at 18:30.
	all, err := Zones("+15005550006")
	if err != nil || len(all) < 10 {
		t.Fatalf("zones = %d %v", len(all), err)
	}
	if ok, next := q.Allowed(all, time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)); ok || !next.Equal(time.Date(2026, 12, 8, 22, 0, 0, 0, time.UTC)) {
		t.Fatalf("all NANP zones = %v %v", ok, next)
	}
	// Three zones eight hours apart (London, Shanghai, Los Angeles in
	// winter) leave no instant that is day in all three.
	london, _ := time.LoadLocation("Europe/London")
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	if ok, next := q.Allowed([]*time.Location{london, shanghai, la[0]}, time.Date(2026, 12, 8, 20, 0, 0, 0, time.UTC)); ok || !next.IsZero() {
		t.Fatalf("London+Shanghai+Los Angeles = %v %v, want refused with no time", ok, next)
	}
	// A window that does not wrap midnight.
	q2, _ := ParseQuietHours("01:00-05:00")
	if ok, _ := q2.Allowed(la, time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC)); ok { // 02:00 LA
		t.Fatal("02:00 inside 01:00-05:00 allowed")
	}
	var off *QuietHours
	if ok, _ := off.Allowed(la, now); !ok {
		t.Fatal("off refused")
	}
}
