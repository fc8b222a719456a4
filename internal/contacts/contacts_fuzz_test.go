package contacts

import (
	"testing"
	"unicode/utf8"
)

func FuzzContactNormalizeValidate(f *testing.F) {
	f.Add("Alice  Example", "+1 (555) 555-0101", "Ali", "note")
	f.Fuzz(func(t *testing.T, name, number, alias, note string) {
		c := Contact{Name: name, PhoneNumber: number, Aliases: []string{alias, alias}, Note: note}
		c.Normalize()
		if err := c.Validate(); err != nil {
			return
		}
		if !utf8.ValidString(c.Name) || utf8.RuneCountInString(c.Name) > MaxNameLen || Key(c.Name) == "" {
			t.Fatalf("accepted name %q", c.Name)
		}
		if len(c.Aliases) > 1 {
			t.Fatalf("duplicate alias kept: %q", c.Aliases)
		}
	})
}
