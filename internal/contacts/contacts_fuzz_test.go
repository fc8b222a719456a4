package contacts

import (
	"testing"
	"unicode/utf8"

	"github.com/voiceagent/voiceagent/internal/phone"
)

func FuzzContactNormalizeValidate(f *testing.F) {
	f.Add("Alice  Example", "+15555550101", "Ali", "note")
	f.Add("Bob", "5555550142", "Bobby", "")
	f.Fuzz(func(t *testing.T, name, number, alias, note string) {
		c := Contact{Name: name, PhoneNumber: number, Aliases: []string{alias, alias}, Note: note}
		c.Normalize()
		if err := c.Validate(); err != nil {
			return
		}
		if c.PhoneNumber != number || !phone.Valid(number) {
			t.Fatalf("accepted number %q as %q (API numbers are strict E.164, never rewritten)", number, c.PhoneNumber)
		}
		if !utf8.ValidString(c.Name) || utf8.RuneCountInString(c.Name) > MaxNameLen || Key(c.Name) == "" {
			t.Fatalf("accepted name %q", c.Name)
		}
		if len(c.Aliases) > 1 {
			t.Fatalf("duplicate alias kept: %q", c.Aliases)
		}
	})
}
