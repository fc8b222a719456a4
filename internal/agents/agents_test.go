package agents

import (
	"encoding/json"
	"go.uber.org/goleak"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

var lim = Limits{MaxCallDuration: 30 * time.Minute, IdleTimeout: 2 * time.Minute}

func TestAgentValidation(t *testing.T) {
	ok := Agent{Name: "Front desk", Voice: "alloy", Model: "gpt-realtime", Language: "pt-BR"}
	for name, change := range map[string]func(a *Agent){
		"empty name":          func(a *Agent) { a.Name = "  " },
		"long name":           func(a *Agent) { a.Name = strings.Repeat("é", 101) },
		"long instructions":   func(a *Agent) { a.Instructions = strings.Repeat("a", 20001) },
		"long greeting":       func(a *Agent) { a.Greeting = strings.Repeat("a", 1001) },
		"voice upper case":    func(a *Agent) { a.Voice = "Alloy" },
		"voice empty":         func(a *Agent) { a.Voice = "" },
		"model with slash":    func(a *Agent) { a.Model = "../gpt" },
		"model too long":      func(a *Agent) { a.Model = strings.Repeat("a", 65) },
		"bad language":        func(a *Agent) { a.Language = "english please" },
		"bad dial policy":     func(a *Agent) { a.DialPolicy = "everyone" },
		"any without server":  func(a *Agent) { a.DialPolicy = DialAny },
		"duration over limit": func(a *Agent) { a.MaxCallDuration = 31 * time.Minute },
		"duration too short":  func(a *Agent) { a.MaxCallDuration = time.Second },
		"idle over limit":     func(a *Agent) { a.IdleTimeout = 3 * time.Minute },
		"tool twice":          func(a *Agent) { a.Tools = []string{"end_call", "end_call"} },
		// PostgreSQL refuses NUL in TEXT (a 500 instead of a 400), and
		// control characters have no place in a prompt or a name; the
		// contacts API refuses them the same way.
		"NUL in instructions": func(a *Agent) { a.Instructions = "be kind\x00" },
		"NUL in greeting":     func(a *Agent) { a.Greeting = "hi\x00" },
		"escape in name":      func(a *Agent) { a.Name = "desk\x1b[2J" },
		"DEL in instructions": func(a *Agent) { a.Instructions = "a\x7fb" },
	} {
		a := ok
		change(&a)
		if err := a.validate(lim); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s: err = %v, want invalid", name, err)
		}
	}
	a := ok
	a.Instructions = "line one\n\tline two\r\n"
	if err := a.validate(lim); err != nil {
		t.Fatalf("newlines and tabs in instructions: %v", err)
	}
	a = ok
	if err := a.validate(lim); err != nil || a.DialPolicy != DialContactsOnly || a.MaxCallDuration != lim.MaxCallDuration || a.Tools == nil {
		t.Fatalf("valid agent: %v %+v", err, a)
	}
	a = ok
	a.DialPolicy = DialAny
	if err := a.validate(Limits{MaxCallDuration: time.Hour, IdleTimeout: time.Minute, AllowAnyDial: true}); err != nil {
		t.Fatalf("any with AGENT_DIAL_POLICY=any: %v", err)
	}
}

func TestToolValidation(t *testing.T) {
	okURL := func(string) error { return nil }
	base := Tool{Name: "check_order", URL: "https://api.example.com/x", Parameters: json.RawMessage(`{"type":"object","properties":{"order":{"type":"string","maxLength":20}},"required":["order"]}`)}
	for name, change := range map[string]func(*Tool){
		"built-in name":   func(t *Tool) { t.Name = "end_call" },
		"upper-case name": func(t *Tool) { t.Name = "CheckOrder" },
		"digit first":     func(t *Tool) { t.Name = "1tool" },
		"timeout low":     func(t *Tool) { t.TimeoutMs = 99 },
		"timeout high":    func(t *Tool) { t.TimeoutMs = 10001 },
		"no parameters":   func(t *Tool) { t.Parameters = nil },
		"not an object":   func(t *Tool) { t.Parameters = json.RawMessage(`{"type":"string"}`) },
		"array":           func(t *Tool) { t.Parameters = json.RawMessage(`[]`) },
		"invalid schema": func(t *Tool) {
			t.Parameters = json.RawMessage(`{"type":"object","properties":{"a":{"type":"strnig"}}}`)
		},
		"bad pattern": func(t *Tool) { t.Parameters = json.RawMessage(`{"type":"object","properties":{"a":{"pattern":"("}}}`) },
		"remote reference": func(t *Tool) {
			t.Parameters = json.RawMessage(`{"type":"object","$ref":"https://schemas.example.com/x.json"}`)
		},
		"too large": func(t *Tool) {
			t.Parameters = json.RawMessage(`{"type":"object","description":"` + strings.Repeat("a", MaxParametersBytes) + `"}`)
		},
		"long description": func(t *Tool) { t.Description = strings.Repeat("a", 1001) },
		// Under 16 KiB, but compiling it takes seconds of CPU (the
		// library's cost grows with the square of the depth), on every
		// create, update and call start.
		"nested 1300 deep": func(t *Tool) {
			t.Parameters = json.RawMessage(`{"type":"object","properties":{"a":` + strings.Repeat(`{"items":`, 1300) + `{}` + strings.Repeat(`}`, 1300) + `}}`)
		},
		"nested 33 deep": func(t *Tool) {
			t.Parameters = json.RawMessage(`{"type":"object","properties":{"a":` + strings.Repeat(`{"items":`, 30) + `{}` + strings.Repeat(`}`, 30) + `}}`)
		},
		"NUL in description": func(t *Tool) { t.Description = "orders\x00" },
	} {
		tl := base
		change(&tl)
		if err := tl.validate(okURL); !apperr.Is(err, apperr.Invalid) {
			t.Errorf("%s: err = %v, want invalid", name, err)
		}
	}
	tl := base
	if err := tl.validate(okURL); err != nil || tl.TimeoutMs != DefaultToolTimeout {
		t.Fatalf("valid tool: %v", err)
	}
	// 32 levels, and brackets inside strings, are fine.
	tl = base
	tl.Parameters = json.RawMessage(`{"type":"object","description":"` + strings.Repeat("{[", 100) + `\"{","properties":{"a":` + strings.Repeat(`{"items":`, 29) + `{}` + strings.Repeat(`}`, 29) + `}}`)
	if err := tl.validate(okURL); err != nil {
		t.Fatalf("schema 32 levels deep: %v", err)
	}
}

// TestSchemaCannotReadLocalFiles: the library's default loader reads
// file:// references; ours refuses every external reference.
func TestSchemaCannotReadLocalFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "secret.json")
	if err := os.WriteFile(path, []byte(`{"type":"object"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	raw := json.RawMessage(`{"type":"object","properties":{"a":{"$ref":"file://` + filepath.ToSlash(path) + `"}}}`)
	if _, err := CompileParameters(raw); !apperr.Is(err, apperr.Invalid) {
		t.Fatalf("file reference compiled: %v", err)
	}
}

func TestValidateArguments(t *testing.T) {
	sch, err := CompileParameters(json.RawMessage(`{"type":"object","properties":{"order":{"type":"string","pattern":"^[A-Z][0-9]+$"}},"required":["order"],"additionalProperties":false}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateArguments(sch, []byte(`{"order":"A123"}`)); err != nil {
		t.Fatalf("valid arguments: %v", err)
	}
	for _, bad := range []string{`{}`, `{"order":"a1"}`, `{"order":"A1","x":1}`, `{"order":5}`, `not json`, `[]`} {
		err := ValidateArguments(sch, []byte(bad))
		if err == nil {
			t.Errorf("%s accepted", bad)
		} else if strings.Contains(err.Error(), "a1") {
			t.Errorf("error repeats the value: %v", err)
		}
	}
}

func TestSealer(t *testing.T) {
	s, err := NewSealer("0123456789abcdef0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	secret := newSecret()
	sealed := s.Seal("check_order", secret)
	if strings.Contains(string(sealed), secret[6:]) {
		t.Fatal("sealed holds the secret")
	}
	if got, err := s.Open("check_order", sealed); err != nil || got != secret {
		t.Fatalf("Open = %v", err)
	}
	if _, err := s.Open("other_tool", sealed); err == nil {
		t.Fatal("a sealed secret opened for another tool")
	}
	other, _ := NewSealer("another key, 0123456789abcdef0123")
	if _, err := other.Open("check_order", sealed); err == nil {
		t.Fatal("another key opened the secret")
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s.Open("check_order", sealed); err == nil {
		t.Fatal("a tampered secret opened")
	}
	if _, err := NewSealer("short"); err == nil {
		t.Fatal("a short key was accepted")
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
