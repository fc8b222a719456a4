package config

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/voiceagent/voiceagent/internal/phone"
)

// loader reads variables and collects problems that name them, so one run
// reports every bad variable at once.
type loader struct {
	getenv func(string) string
	probs  []problem
}

// problem is one refused variable. Its message never holds a secret value.
type problem struct {
	name string // the variable at fault
	msg  string // what is wrong, to follow the name
}

func (p problem) Error() string { return p.name + " " + p.msg }

func (l *loader) fail(name, msg string) {
	l.probs = append(l.probs, problem{name, msg})
}

func (l *loader) str(name, def string) string {
	if v := strings.TrimSpace(l.getenv(name)); v != "" {
		return v
	}
	return def
}

// secret reads NAME or the file named by NAME_FILE (not both).
func (l *loader) secret(name string) string {
	v := strings.TrimSpace(l.getenv(name))
	path := strings.TrimSpace(l.getenv(name + "_FILE"))
	if path == "" {
		return v
	}
	if v != "" {
		l.fail(name, "and "+name+"_FILE are both set; use one")
		return ""
	}
	b, err := os.ReadFile(path)
	if err != nil {
		l.fail(name+"_FILE", "cannot be read: "+errors.Unwrap(err).Error())
		return ""
	}
	s := strings.TrimSpace(string(b))
	if s == "" {
		l.fail(name+"_FILE", "names an empty file")
	}
	return s
}

func (l *loader) textOrFile(name, def string) string {
	if path := strings.TrimSpace(l.getenv(name + "_FILE")); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			l.fail(name+"_FILE", "cannot be read")
			return def
		}
		return strings.TrimSpace(string(b))
	}
	return l.str(name, def)
}

func (l *loader) oneOf(name, def string, allowed ...string) string {
	v := strings.ToLower(l.str(name, def))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	l.fail(name, fmt.Sprintf("must be one of %s (got %q)", strings.Join(allowed, "|"), truncate(v)))
	return def
}

func (l *loader) intRange(name string, def, lo, hi int) int {
	raw := l.str(name, "")
	if raw == "" {
		return def
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < lo || n > hi {
		l.fail(name, fmt.Sprintf("must be an integer from %d to %d (got %q)", lo, hi, truncate(raw)))
		return def
	}
	return n
}

// gogc reads a garbage-collection target as Go's GOGC spells it: a
// percentage, or "off" (-1: no collection but at GOMEMLIMIT).
func (l *loader) gogc(name string, def int) int {
	raw := l.str(name, "")
	if raw == "" {
		return def
	}
	if strings.EqualFold(raw, "off") {
		return -1
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > 100000 {
		l.fail(name, fmt.Sprintf("must be a percentage from 1 to 100000, or off (got %q)", truncate(raw)))
		return def
	}
	return n
}

func (l *loader) boolean(name string, def bool) bool {
	raw := l.str(name, "")
	if raw == "" {
		return def
	}
	b, err := strconv.ParseBool(raw)
	if err != nil {
		l.fail(name, fmt.Sprintf("must be true or false (got %q)", truncate(raw)))
		return def
	}
	return b
}

func (l *loader) duration(name string, def time.Duration) time.Duration {
	raw := l.str(name, "")
	if raw == "" {
		return def
	}
	d, err := time.ParseDuration(raw)
	if err != nil || d <= 0 {
		l.fail(name, fmt.Sprintf("must be a positive duration such as 30s or 5m (got %q)", truncate(raw)))
		return def
	}
	return d
}

func (l *loader) list(name string) []string {
	var out []string
	for _, s := range strings.Split(l.getenv(name), ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

func (l *loader) phone(name string) string {
	raw := l.str(name, "")
	if raw == "" {
		return ""
	}
	n, err := phone.Normalize(raw)
	if err != nil {
		l.fail(name, "is not a phone number that can be written in E.164 (+ and country code)")
		return ""
	}
	return n
}

func (l *loader) phones(name string) []string {
	out, err := phone.NormalizeList(l.getenv(name))
	if err != nil {
		l.fail(name, "holds a value that is not an E.164 phone number")
		return nil
	}
	return out
}

func (l *loader) countries(name string) []string {
	var out []string
	for _, c := range l.list(name) {
		c = strings.ToUpper(c)
		if len(c) != 2 || c[0] < 'A' || c[0] > 'Z' || c[1] < 'A' || c[1] > 'Z' {
			l.fail(name, fmt.Sprintf("must hold ISO 3166 two-letter codes (got %q)", truncate(c)))
			return nil
		}
		out = append(out, c)
	}
	return out
}

func (l *loader) prefixes(name string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range l.list(name) {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			l.fail(name, fmt.Sprintf("must hold IP addresses or CIDR prefixes (got %q)", truncate(s)))
			return nil
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out
}

func (l *loader) publicURL(name string) *url.URL {
	raw := l.str(name, "")
	if raw == "" {
		return nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		l.fail(name, "must be an absolute http(s) URL with a host and no credentials, query or fragment")
		return nil
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u
}

func (l *loader) wsURL(name, def string) string {
	raw := l.str(name, def)
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "wss" && u.Scheme != "ws") || u.Host == "" {
		l.fail(name, "must be a ws:// or wss:// URL")
		return def
	}
	return raw
}

// bearer reads one token or two comma-separated tokens (rotation).
func (l *loader) bearer(name string, prod bool) []BearerToken {
	raw := l.secret(name)
	if raw == "" {
		if prod {
			l.fail(name, "is required in production")
		}
		return nil
	}
	parts := strings.Split(raw, ",")
	if len(parts) > 2 {
		l.fail(name, "holds at most two comma-separated tokens (current and next)")
		return nil
	}
	names := []string{"primary", "next"}
	var out []BearerToken
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			l.fail(name, "holds an empty token")
			return nil
		}
		if prod && len(p) < 32 {
			l.fail(name, "tokens must be at least 32 characters in production")
			return nil
		}
		out = append(out, BearerToken{Name: names[i], Value: p})
	}
	return out
}

// truncate keeps echoed values short in error lines. It is never used for
// secret variables.
func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
