package config

import (
	"math"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strings"
)

// Production refusals: every setting that quietly weakens a
// running server is refused with its variable named (never its value), so
// `voiceagent check` prints a FAIL line and the server does not start.
func (c *Config) validateUnsafe(l *loader) {
	if u, err := url.Parse(c.RealtimeURL); err != nil || u.Scheme != "wss" {
		l.fail("REALTIME_URL", "must be wss:// in production (the API key and caller audio would cross the network in clear)")
	}
	if u, err := url.Parse(c.Outbound.APIBaseURL); err == nil && u.Scheme != "https" {
		l.fail("TWILIO_API_BASE_URL", "must be https in production (REST credentials would cross the network in clear)")
	}
	if c.MetricsAddr != "" && !privateListenAddr(c.MetricsAddr) {
		l.fail("METRICS_ADDR", "must be a loopback or private IP address with a port in production (metrics there need no token)")
	}
	for _, p := range c.TrustedProxies {
		if !privatePrefix(p) {
			l.fail("TRUSTED_PROXIES", "must hold only loopback or private ranges in production (a public range lets any client choose its address)")
			break
		}
	}
	if c.TwilioAuthToken != "" && !authTokenPattern.MatchString(c.TwilioAuthToken) {
		l.fail("TWILIO_AUTH_TOKEN", "must be 32 hex digits, as Twilio issues it")
	}
	if name := sameSecret(c); name != "" {
		l.fail("TWILIO_AUTH_TOKEN", "must not be the same value as "+name)
	}
	for _, o := range c.AllowedOrigins {
		if o != "*" && !exactHTTPSOrigin(o) { // "*" has its own refusal
			l.fail("ALLOWED_ORIGINS", "entries must be exact https://host[:port] origins (no path, wildcard, http or opaque origin)")
			break
		}
	}
	for _, t := range c.BearerTokens {
		if weakToken(t.Value) {
			l.fail("INTERNAL_API_BEARER", "a token has too little variety (fewer than 12 distinct characters, or under 128 bits counting runs and repeated blocks as nothing); generate one with `openssl rand -hex 32`")
			break
		}
	}
	if plaintextRemoteDB(c.DatabaseURL) {
		l.fail("DATABASE_URL", "sslmode=disable to a host other than loopback sends data and password in clear")
	}
	if c.PprofAddr != "" {
		l.fail("PPROF_ADDR", "must be unset in production (profiles expose memory contents)")
	}
	if c.TwilioPhoneNumber == "" {
		l.fail("TWILIO_PHONE_NUMBER", "is required in production (calls to any other number are refused by it)")
	}
	for _, p := range c.ToolAllowedNetworks {
		if everyAddress(p) {
			l.fail("TOOL_ALLOWED_NETWORKS", "must not allow every IPv4 or IPv6 address (a /0 range) in production: HTTP tools could then reach loopback, private and cloud-metadata addresses")
			break
		}
	}
}

// everyAddress: a prefix covering the whole IPv4 or IPv6 space (including
// ::ffff:0:0/96, every IPv4 address in its mapped form).
func everyAddress(p netip.Prefix) bool {
	if p.Bits() == 0 {
		return true
	}
	return p.Addr().Is4In6() && p.Bits() <= 96
}

// unsafeWarnings are the checklist's WARN lines for settings that are
// legitimate but worth a second look.
func (c *Config) unsafeWarnings() []Check {
	var out []Check
	if c.AgentDialPolicy == DialAny {
		out = append(out, Check{Warn, "AGENT_DIAL_POLICY", "any: the agent may dial numbers that are not contacts (toll-fraud guards still apply)"})
	}
	if len(c.ToolAllowedNetworks) > 0 {
		out = append(out, Check{Warn, "TOOL_ALLOWED_NETWORKS", "HTTP tools may reach these otherwise refused ranges; list only the hosts of your own tool endpoints"})
	}
	if c.Outbound.APIBaseURL != "https://api.twilio.com" {
		out = append(out, Check{Warn, "TWILIO_API_BASE_URL", "is not Twilio's: REST calls and their credentials go to this provider; make sure it is the one you mean"})
	}
	if c.Outbound.QuietHours == nil && c.Production() {
		out = append(out, Check{Warn, "OUTBOUND_QUIET_HOURS", "off: outbound calls may ring at night in the callee's time zone (telemarketing rules such as the TCPA forbid calls before 8 am and after 9 pm)"})
	}
	if c.LogLevel == "debug" {
		out = append(out, Check{Warn, "LOG_LEVEL", "debug logs more than operators need; use info"})
	}
	if c.AuthFailLimit > 100 {
		out = append(out, Check{Warn, "AUTH_FAILURE_LIMIT", "over 100 failures before a lockout makes token guessing cheap"})
	}
	if w := c.DevelopmentDefaultsWarning(); w != "" {
		out = append(out, Check{Warn, "APP_ENV", w})
	}
	return out
}

// DevelopmentDefaultsWarning is a warning when APP_ENV is unset and
// PUBLIC_URL is a public https address: the server looks deployed but runs
// without the production refusals. Empty otherwise. Shown at start, in
// `voiceagent check` and in /ready's details.
func (c *Config) DevelopmentDefaultsWarning() string {
	if !c.EnvDefaulted || c.PublicURL == nil || c.PublicURL.Scheme != "https" || !publicHost(c.PublicURL.Hostname()) {
		return ""
	}
	return "unset while PUBLIC_URL is a public https address: the server runs with development defaults and none of the production refusals; set APP_ENV=production"
}

var authTokenPattern = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

// sameSecret names another secret the Twilio auth token equals, if any.
func sameSecret(c *Config) string {
	if c.TwilioAuthToken == "" {
		return ""
	}
	for _, s := range []struct{ name, value string }{
		{"TWILIO_API_SECRET", c.TwilioAPISecret},
		{"OPENAI_API_KEY", c.OpenAIAPIKey},
		{"PRIVACY_HASH_KEY", c.PrivacyHashKey},
		{"DATABASE_URL's password", databasePassword(c.DatabaseURL)},
	} {
		if s.value == c.TwilioAuthToken {
			return s.name
		}
	}
	for _, t := range c.BearerTokens {
		if t.Value == c.TwilioAuthToken {
			return "INTERNAL_API_BEARER"
		}
	}
	return ""
}

// nonPublic are the ranges a private listener or a trusted proxy may be in.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("127.0.0.0/8"),
	netip.MustParsePrefix("10.0.0.0/8"),
	netip.MustParsePrefix("172.16.0.0/12"),
	netip.MustParsePrefix("192.168.0.0/16"),
	netip.MustParsePrefix("100.64.0.0/10"), // carrier-grade NAT, used inside clouds
	netip.MustParsePrefix("169.254.0.0/16"),
	netip.MustParsePrefix("::1/128"),
	netip.MustParsePrefix("fc00::/7"),
	netip.MustParsePrefix("fe80::/10"),
}

// privatePrefix reports whether p lies wholly inside a non-public range.
func privatePrefix(p netip.Prefix) bool {
	a := p.Addr().Unmap()
	bits := p.Bits()
	if p.Addr().Is4In6() {
		bits -= 96
	}
	for _, r := range nonPublic {
		if r.Addr().BitLen() == a.BitLen() && r.Bits() <= bits && r.Contains(a) {
			return true
		}
	}
	return false
}

// privateListenAddr accepts host:port with localhost or a loopback or
// private IP; an empty host (every interface) and other names are refused.
func privateListenAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && privatePrefix(netip.PrefixFrom(a, a.BitLen()))
}

// exactHTTPSOrigin accepts https://host or https://host:port, nothing else.
func exactHTTPSOrigin(o string) bool {
	u, err := url.Parse(o)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Path != "" || u.RawQuery != "" ||
		u.Fragment != "" || u.Opaque != "" || strings.ContainsAny(u.Host, "*") || u.ForceQuery {
		return false
	}
	return "https://"+u.Host == o
}

// weakToken: fewer than 12 distinct characters, or under 128 bits when
// each character is counted at the entropy of the token's own character
// frequencies (so long runs of a few characters do not pass on length)
// and a character that continues a pattern counts nothing: the next step
// of a run ("0123...", "aceg...") or the end of three characters seen
// before (a block said twice). Random tokens lose a character or two that
// way by chance; "0123456789abcdef0123456789abcdef" loses nearly all.
// Twelve, not sixteen: about one `openssl rand -hex 32` token in four
// lacks one of the sixteen hex digits, and was refused.
func weakToken(t string) bool {
	rs := []rune(t)
	freq := map[rune]int{}
	for _, r := range rs {
		freq[r]++
	}
	if len(freq) < 12 {
		return true
	}
	h := 0.0
	for _, k := range freq {
		p := float64(k) / float64(len(rs))
		h -= p * math.Log2(p)
	}
	bits := 0.0
	for i := range rs {
		if !continuesPattern(rs, i) {
			bits += h
		}
	}
	return bits < 128
}

// continuesPattern: rs[i] is the next step of a run of equal steps, or
// ends a three-character sequence that occurred earlier in rs.
func continuesPattern(rs []rune, i int) bool {
	if i < 2 {
		return false
	}
	if rs[i]-rs[i-1] == rs[i-1]-rs[i-2] {
		return true
	}
	for j := 2; j < i; j++ {
		if rs[j] == rs[i] && rs[j-1] == rs[i-1] && rs[j-2] == rs[i-2] {
			return true
		}
	}
	return false
}

// plaintextRemoteDB: a postgres URL with sslmode=disable to a host that is
// not loopback or a Unix socket.
func plaintextRemoteDB(raw string) bool {
	if raw == "" {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || !strings.EqualFold(u.Query().Get("sslmode"), "disable") {
		return false
	}
	host := u.Hostname()
	if h := u.Query().Get("host"); h != "" {
		host = h
	}
	if host == "" || strings.HasPrefix(host, "/") || host == "localhost" {
		return false
	}
	a, err := netip.ParseAddr(host)
	return err != nil || !a.IsLoopback()
}

// publicHost: a host name or address that the Internet can reach, as far
// as the name tells: not loopback, private or link-local, and not under a
// reserved or local-only suffix.
func publicHost(h string) bool {
	h = strings.ToLower(strings.TrimSuffix(h, "."))
	if a, err := netip.ParseAddr(h); err == nil {
		return !privatePrefix(netip.PrefixFrom(a, a.BitLen())) && !a.IsUnspecified()
	}
	if h == "localhost" || !strings.Contains(h, ".") {
		return false
	}
	for _, s := range []string{".localhost", ".local", ".internal", ".test", ".example", ".invalid", ".home.arpa", ".lan"} {
		if strings.HasSuffix(h, s) {
			return false
		}
	}
	return true
}
