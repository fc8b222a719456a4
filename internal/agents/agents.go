// Package agents holds the agents a business programs (instructions,
// voice, model and tools per phone number), the phone numbers assigned to
// them, and the HTTP tools that call the business's own systems through
// internal/egress with signed requests.
//
// The agent "default" is built from the environment (AGENT_*, REALTIME_*);
// it is listed and readable but never stored, changed or deleted. A number
// with no assignment is answered by it.
package agents

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/voiceagent/voiceagent/internal/apperr"
)

// DefaultID is the agent built from the environment.
const DefaultID = "default"

// The built-in tools the relay implements itself.
var BuiltinTools = []string{"lookup_contact", "add_to_conference", "forward_call", "end_call"}

// Dial policies of an agent.
const (
	DialNone         = "none"
	DialContactsOnly = "contacts-only"
	DialAny          = "any"
)

// Limits on what an agent may hold: they bound the instructions and
// greeting sent to the model on every call and the rows an operator can
// create.
const (
	MaxNameLen         = 100
	MaxInstructionsLen = 20000
	MaxGreetingLen     = 1000
	MaxDescriptionLen  = 1000
	MaxParametersBytes = 16 << 10
	MaxParametersDepth = 32 // JSON nesting of a tool's parameters
	MinToolTimeoutMs   = 100
	MaxToolTimeoutMs   = 10000
	DefaultToolTimeout = 5000
	MaxAgentTools      = 64
)

// Agent is one agent profile.
type Agent struct {
	ID              string
	Name            string
	Instructions    string
	Greeting        string
	Voice           string
	Model           string
	Language        string
	Tools           []string
	DialPolicy      string
	MaxCallDuration time.Duration
	IdleTimeout     time.Duration
	CreatedAt       time.Time
	UpdatedAt       time.Time
}

// Tool is an HTTP tool. The signing secret is never part of it: the store
// keeps it sealed (Sealer) and only Service.Secret opens it, for signing.
type Tool struct {
	Name          string
	Description   string
	Parameters    json.RawMessage // a JSON Schema with "type":"object"
	URL           string
	TimeoutMs     int
	IncludeCaller bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Number assigns a phone number to an agent.
type Number struct {
	PhoneNumber string
	AgentID     string
	UpdatedAt   time.Time
}

// Store persists agents, tools and numbers (internal/store).
type Store interface {
	ListAgents(ctx context.Context) ([]Agent, error)
	GetAgent(ctx context.Context, id string) (Agent, error)
	InsertAgent(ctx context.Context, a Agent) error
	UpdateAgent(ctx context.Context, a Agent) error
	// DeleteAgent removes the agent unless a number uses it
	// (apperr.Conflict), atomically with that check.
	DeleteAgent(ctx context.Context, id string) error

	ListTools(ctx context.Context) ([]Tool, error)
	GetTool(ctx context.Context, name string) (Tool, error)
	// ToolSecret returns the sealed secret of a tool.
	ToolSecret(ctx context.Context, name string) ([]byte, error)
	InsertTool(ctx context.Context, t Tool, sealed []byte) error
	UpdateTool(ctx context.Context, t Tool) error
	SetToolSecret(ctx context.Context, name string, sealed []byte, at time.Time) error
	DeleteTool(ctx context.Context, name string) error

	ListNumbers(ctx context.Context) ([]Number, error)
	// PutNumber assigns the number; created reports a new row. It
	// refuses (apperr.NotFound) an agent id that does not exist, except
	// DefaultID.
	PutNumber(ctx context.Context, n Number) (created bool, err error)
	DeleteNumber(ctx context.Context, phoneNumber string) error
}

var (
	slugRE     = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	toolNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	languageRE = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$`)
	idRE       = regexp.MustCompile(`^agt_[0-9a-f]{24}$`)
)

// Limits are the server's own bounds an agent must stay within.
type Limits struct {
	MaxCallDuration time.Duration // MAX_CALL_DURATION
	IdleTimeout     time.Duration // CALL_IDLE_TIMEOUT
	// AllowAnyDial: AGENT_DIAL_POLICY is any. Otherwise an agent may not
	// widen dialling to any number (a token with agents:write must not
	// undo the operator's toll-fraud choice).
	AllowAnyDial bool
}

// Builtin reports whether name is a built-in tool.
func Builtin(name string) bool { return slices.Contains(BuiltinTools, name) }

// validate checks everything but tool existence.
func (a *Agent) validate(lim Limits) error {
	a.Name = strings.TrimSpace(a.Name)
	switch n := utf8.RuneCountInString(a.Name); {
	case n == 0 || n > MaxNameLen:
		return apperr.Errorf(apperr.Invalid, "name must be 1 to %d characters", MaxNameLen)
	case !utf8.ValidString(a.Name + a.Instructions + a.Greeting):
		return apperr.New(apperr.Invalid, "text must be valid UTF-8")
	case strings.ContainsFunc(a.Name+a.Instructions+a.Greeting, isControl):
		return apperr.New(apperr.Invalid, "name, instructions and greeting must not contain control characters (tab and line breaks are fine)")
	case utf8.RuneCountInString(a.Instructions) > MaxInstructionsLen:
		return apperr.Errorf(apperr.Invalid, "instructions must be at most %d characters", MaxInstructionsLen)
	case utf8.RuneCountInString(a.Greeting) > MaxGreetingLen:
		return apperr.Errorf(apperr.Invalid, "greeting must be at most %d characters", MaxGreetingLen)
	case !slugRE.MatchString(a.Voice):
		return apperr.New(apperr.Invalid, "voice must match ^[a-z0-9][a-z0-9._-]{0,63}$")
	case !slugRE.MatchString(a.Model):
		return apperr.New(apperr.Invalid, "model must match ^[a-z0-9][a-z0-9._-]{0,63}$")
	case a.Language != "" && !languageRE.MatchString(a.Language):
		return apperr.New(apperr.Invalid, "language must be a language tag such as en or pt-BR")
	case len(a.Tools) > MaxAgentTools:
		return apperr.Errorf(apperr.Invalid, "at most %d tools", MaxAgentTools)
	}
	switch a.DialPolicy {
	case "":
		a.DialPolicy = DialContactsOnly
	case DialNone, DialContactsOnly:
	case DialAny:
		if !lim.AllowAnyDial {
			return apperr.New(apperr.Invalid, "dialPolicy any needs AGENT_DIAL_POLICY=any on the server")
		}
	default:
		return apperr.New(apperr.Invalid, "dialPolicy must be none, contacts-only or any")
	}
	if a.MaxCallDuration == 0 {
		a.MaxCallDuration = lim.MaxCallDuration
	}
	if a.IdleTimeout == 0 {
		a.IdleTimeout = lim.IdleTimeout
	}
	if a.MaxCallDuration < time.Minute || a.MaxCallDuration > lim.MaxCallDuration {
		return apperr.Errorf(apperr.Invalid, "maxCallDuration must be between 1m and the server's MAX_CALL_DURATION (%s)", lim.MaxCallDuration)
	}
	if a.IdleTimeout < 10*time.Second || a.IdleTimeout > lim.IdleTimeout {
		return apperr.Errorf(apperr.Invalid, "idleTimeout must be between 10s and the server's CALL_IDLE_TIMEOUT (%s)", lim.IdleTimeout)
	}
	seen := map[string]bool{}
	for _, t := range a.Tools {
		if seen[t] {
			return apperr.Errorf(apperr.Invalid, "tool %q is listed twice", t)
		}
		seen[t] = true
	}
	if a.Tools == nil {
		a.Tools = []string{}
	}
	return nil
}

// isControl reports a C0 control character other than tab and line
// breaks, or DEL. PostgreSQL refuses NUL in TEXT (a 500 instead of this
// 400), and the others only disguise text in logs and terminals.
func isControl(r rune) bool {
	return r < 0x20 && r != '\n' && r != '\t' && r != '\r' || r == 0x7f
}

// validate checks a tool's fields (the URL through check).
func (t *Tool) validate(checkURL func(string) error) error {
	switch {
	case !toolNameRE.MatchString(t.Name):
		return apperr.New(apperr.Invalid, "name must match ^[a-z][a-z0-9_]{0,63}$")
	case Builtin(t.Name):
		return apperr.Errorf(apperr.Invalid, "name %q is a built-in tool", t.Name)
	case !utf8.ValidString(t.Description) || utf8.RuneCountInString(t.Description) > MaxDescriptionLen:
		return apperr.Errorf(apperr.Invalid, "description must be at most %d characters", MaxDescriptionLen)
	case strings.ContainsFunc(t.Description, isControl):
		return apperr.New(apperr.Invalid, "description must not contain control characters (tab and line breaks are fine)")
	}
	if t.TimeoutMs == 0 {
		t.TimeoutMs = DefaultToolTimeout
	}
	if t.TimeoutMs < MinToolTimeoutMs || t.TimeoutMs > MaxToolTimeoutMs {
		return apperr.Errorf(apperr.Invalid, "timeoutMs must be %d to %d", MinToolTimeoutMs, MaxToolTimeoutMs)
	}
	if err := checkURL(t.URL); err != nil {
		return apperr.Wrap(err, apperr.Invalid, err.Error())
	}
	if _, err := CompileParameters(t.Parameters); err != nil {
		return err
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, t.Parameters); err == nil {
		t.Parameters = compact.Bytes()
	}
	return nil
}

// noLoader refuses every external reference: a schema may only refer
// inside itself (a $ref to file:// or http:// would read local files or
// reach the network).
type noLoader struct{}

func (noLoader) Load(url string) (any, error) {
	return nil, fmt.Errorf("external references are not allowed (%s)", url)
}

// CompileParameters checks a tool's parameters: a JSON Schema document of
// at most 16 KiB whose top-level "type" is "object", that compiles
// (draft 2020-12 unless it names its own $schema) with no external
// references. The answer is apperr.Invalid.
func CompileParameters(raw json.RawMessage) (*jsonschema.Schema, error) {
	if len(raw) == 0 {
		return nil, apperr.New(apperr.Invalid, "parameters is required (a JSON Schema with \"type\":\"object\")")
	}
	if len(raw) > MaxParametersBytes {
		return nil, apperr.Errorf(apperr.Invalid, "parameters must be at most %d bytes", MaxParametersBytes)
	}
	if jsonDepth(raw) > MaxParametersDepth {
		// The schema library's compile time grows with the square of
		// the depth: 13 KB nested 1,300 deep took seconds of CPU, on
		// every create, update and call start.
		return nil, apperr.Errorf(apperr.Invalid, "parameters must be nested at most %d levels deep", MaxParametersDepth)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "parameters is not valid JSON")
	}
	obj, ok := doc.(map[string]any)
	if !ok || obj["type"] != "object" {
		return nil, apperr.New(apperr.Invalid, `parameters must be a JSON Schema object with "type":"object"`)
	}
	c := jsonschema.NewCompiler()
	c.UseLoader(noLoader{})
	const loc = "urn:voiceagent:tool-parameters"
	if err := c.AddResource(loc, doc); err != nil {
		return nil, apperr.New(apperr.Invalid, "parameters is not a valid JSON Schema")
	}
	sch, err := c.Compile(loc)
	if err != nil {
		return nil, apperr.Errorf(apperr.Invalid, "parameters is not a valid JSON Schema: %s", firstLine(err.Error()))
	}
	return sch, nil
}

// ValidateArguments checks the model's arguments (a JSON document) against
// a compiled schema. The error names the failed rule, never the value.
func ValidateArguments(sch *jsonschema.Schema, args []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(args))
	if err != nil {
		return fmt.Errorf("arguments are not valid JSON")
	}
	if err := sch.Validate(v); err != nil {
		return fmt.Errorf("arguments do not match the tool's parameters")
	}
	return nil
}

// jsonDepth is the deepest nesting of objects and arrays in a JSON text
// (strings skipped); for invalid JSON it is a lower bound.
func jsonDepth(raw []byte) int {
	depth, deepest, inString, escaped := 0, 0, false, false
	for _, c := range raw {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
