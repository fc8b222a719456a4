package sim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Verb is one TwiML element: its name, attributes, text and children.
type Verb struct {
	Name     string
	Attrs    map[string]string
	Text     string
	Children []Verb
}

// Answer is a parsed TwiML <Response>.
type Answer struct {
	Verbs []Verb
}

// ParseTwiML parses a TwiML document into its verbs. It parses (never
// compares strings), so attribute order and whitespace do not matter.
func ParseTwiML(body []byte) (Answer, error) {
	dec := xml.NewDecoder(bytes.NewReader(body))
	var stack []*Verb
	root := &Verb{}
	seenRoot := false
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Answer{}, fmt.Errorf("TwiML: %w", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if !seenRoot {
				if tok.Name.Local != "Response" {
					return Answer{}, fmt.Errorf("TwiML: root element %q, want Response", tok.Name.Local)
				}
				seenRoot = true
				stack = append(stack, root)
				continue
			}
			if len(stack) == 0 {
				return Answer{}, errors.New("TwiML: content after </Response>")
			}
			v := Verb{Name: tok.Name.Local, Attrs: map[string]string{}}
			for _, a := range tok.Attr {
				v.Attrs[a.Name.Local] = a.Value
			}
			parent := stack[len(stack)-1]
			parent.Children = append(parent.Children, v)
			stack = append(stack, &parent.Children[len(parent.Children)-1])
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 1 {
				top := stack[len(stack)-1]
				top.Text += strings.TrimSpace(string(tok))
			}
		}
	}
	if !seenRoot {
		return Answer{}, errors.New("TwiML: no <Response>")
	}
	return Answer{Verbs: root.Children}, nil
}

// Find returns the first verb with the given name at the top level.
func (a Answer) Find(name string) (Verb, bool) {
	for _, v := range a.Verbs {
		if v.Name == name {
			return v, true
		}
	}
	return Verb{}, false
}

// Decision names what the answer does with the call: "reject",
// "busy" (Reject reason=busy), "hangup" (Say then Hangup), "gather" (asks
// for input and continues at /voice/accept), "stream" (Connect Stream),
// "say" or "other".
func (a Answer) Decision() string {
	if r, ok := a.Find("Reject"); ok {
		if r.Attrs["reason"] == "busy" {
			return "busy"
		}
		return "reject"
	}
	if c, ok := a.Find("Connect"); ok {
		for _, ch := range c.Children {
			if ch.Name == "Stream" {
				return "stream"
			}
		}
	}
	if _, ok := a.Find("Gather"); ok {
		return "gather"
	}
	if _, ok := a.Find("Hangup"); ok {
		return "hangup"
	}
	if _, ok := a.Find("Redirect"); ok {
		return "gather"
	}
	if _, ok := a.Find("Say"); ok {
		return "say"
	}
	return "other"
}

// Next is where Twilio goes after a gather answer: the Gather action, or
// the Redirect target.
func (a Answer) Next() string {
	if g, ok := a.Find("Gather"); ok && g.Attrs["action"] != "" {
		return g.Attrs["action"]
	}
	if r, ok := a.Find("Redirect"); ok {
		return r.Text
	}
	return ""
}

// Stream returns the <Connect><Stream> URL and its parameters.
func (a Answer) Stream() (string, map[string]string, bool) {
	c, ok := a.Find("Connect")
	if !ok {
		return "", nil, false
	}
	for _, s := range c.Children {
		if s.Name != "Stream" {
			continue
		}
		params := map[string]string{}
		for _, p := range s.Children {
			if p.Name == "Parameter" {
				params[p.Attrs["name"]] = p.Attrs["value"]
			}
		}
		return s.Attrs["url"], params, true
	}
	return "", nil, false
}
