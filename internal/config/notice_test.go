package config

import "testing"

// TestTranscriptionNoticeCheck: in production an empty notice is a WARN
// line of the checklist (transcripts are always kept).
func TestTranscriptionNoticeCheck(t *testing.T) {
	for _, tc := range []struct {
		prod   bool
		notice string
		want   Status
	}{
		{false, "", Pass},
		{true, "", Warn},
		{true, DefaultTranscriptionNotice, Pass},
	} {
		c, err := Load(func(string) string { return "" })
		if err != nil {
			t.Fatal(err)
		}
		if c.TranscriptionNotice != DefaultTranscriptionNotice {
			t.Fatalf("default notice = %q", c.TranscriptionNotice)
		}
		if tc.prod {
			c.Env = Production
		}
		c.TranscriptionNotice = tc.notice
		var got Status
		for _, ch := range c.Checklist() {
			if ch.Name == "TRANSCRIPTION_NOTICE" {
				got = ch.Status
			}
		}
		if got != tc.want {
			t.Errorf("prod=%v notice=%q: status %q, want %q", tc.prod, tc.notice, got, tc.want)
		}
	}
	c, err := Load(func(k string) string {
		if k == "TRANSCRIPTION_NOTICE" {
			return "OFF"
		}
		return ""
	})
	if err != nil || c.TranscriptionNotice != "" {
		t.Fatalf("TRANSCRIPTION_NOTICE=OFF: %q, %v", c.TranscriptionNotice, err)
	}
}
