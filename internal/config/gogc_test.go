package config

import (
	"strings"
	"testing"
)

// The server's garbage-collection target: DefaultGOGC unless GOGC says
// otherwise, spelled as Go spells it.
func TestGOGC(t *testing.T) {
	for raw, want := range map[string]int{
		"":    DefaultGOGC,
		"100": 100,
		"25":  25,
		"off": -1,
		"OFF": -1,
	} {
		cfg, err := Load(func(k string) string { return map[string]string{"GOGC": raw}[k] })
		if err != nil {
			t.Fatalf("GOGC=%q: %v", raw, err)
		}
		if cfg.GCPercent != want {
			t.Errorf("GOGC=%q: GCPercent = %d, want %d", raw, cfg.GCPercent, want)
		}
	}
	for _, raw := range []string{"0", "-5", "fifty", "50%", "100001"} {
		_, err := Load(func(k string) string { return map[string]string{"GOGC": raw}[k] })
		if err == nil || !strings.Contains(err.Error(), "GOGC") {
			t.Errorf("GOGC=%q: err = %v, want one naming GOGC", raw, err)
		}
	}
}
