package apptest

import (
	"testing"

	"github.com/voiceagent/voiceagent/internal/config"
)

// recorder captures Errorf calls so the checker itself can be tested.
type recorder struct {
	testing.TB
	failures int
}

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failures++ }

func TestAssertNoLeaksFindsSecretsAndNumbers(t *testing.T) {
	env := Env()
	cfg, err := config.Load(func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		text string
		want int
	}{
		{"all clean +1*********55", 0},
		{"token=" + Bearer, 1},
		{"auth " + AuthToken, 1},
		{"from=+14155550355", 2},
		{"path /api/data/%2B14155550355", 2},
		{"bare 14155550355", 2},
		{"said +1 (415) 555-0355", 1},
		{"said 415.555.0355 twice", 1},
		{"said 4 1 5 5 5 5 0 3 5 5", 1},
		{"longer 4155550355 1", 0},
	}
	for _, tt := range tests {
		r := &recorder{TB: t}
		AssertNoLeaks(r, "text", tt.text, cfg, "+14155550355")
		if r.failures != tt.want {
			t.Errorf("AssertNoLeaks(%q) failures = %d, want %d", tt.text, r.failures, tt.want)
		}
	}
}
