package config

import (
	"strings"
	"testing"
)

// TestProductionRefusesUnsafeSettings: each unsafe production value,
// alone in a good production configuration, stops Load with the variable
// named and gives a FAIL line in the check, neither repeating the value.
func TestProductionRefusesUnsafeSettings(t *testing.T) {
	tests := []struct {
		name, variable string
		change         map[string]string
	}{
		{"realtime in clear", "REALTIME_URL", map[string]string{"REALTIME_URL": "ws://realtime.example.test/v1/realtime"}},
		{"metrics on every interface", "METRICS_ADDR", map[string]string{"METRICS_ADDR": "0.0.0.0:9090"}},
		{"metrics without host", "METRICS_ADDR", map[string]string{"METRICS_ADDR": ":9090"}},
		{"metrics on a public address", "METRICS_ADDR", map[string]string{"METRICS_ADDR": "198.51.100.7:9090"}},
		{"metrics by name", "METRICS_ADDR", map[string]string{"METRICS_ADDR": "metrics.example.test:9090"}},
		{"every IPv4 client a proxy", "TRUSTED_PROXIES", map[string]string{"TRUSTED_PROXIES": "0.0.0.0/0"}},
		{"every IPv6 client a proxy", "TRUSTED_PROXIES", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/8,::/0"}},
		{"public proxy range", "TRUSTED_PROXIES", map[string]string{"TRUSTED_PROXIES": "203.0.113.0/24"}},
		{"range wider than private", "TRUSTED_PROXIES", map[string]string{"TRUSTED_PROXIES": "10.0.0.0/7"}},
		{"one-character auth token", "TWILIO_AUTH_TOKEN", map[string]string{"TWILIO_AUTH_TOKEN": "x"}},
		{"auth token not hex", "TWILIO_AUTH_TOKEN", map[string]string{"TWILIO_AUTH_TOKEN": "zz000000000000000000000000000000"}},
		{"auth token is the bearer", "TWILIO_AUTH_TOKEN", map[string]string{"TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef", "INTERNAL_API_BEARER": "0123456789abcdef0123456789abcdef"}},
		{"auth token is the hash key", "TWILIO_AUTH_TOKEN", map[string]string{"TWILIO_AUTH_TOKEN": "0123456789abcdef0123456789abcdef", "PRIVACY_HASH_KEY": "0123456789abcdef0123456789abcdef"}},
		{"origin null", "ALLOWED_ORIGINS", map[string]string{"ALLOWED_ORIGINS": "null"}},
		{"origin http", "ALLOWED_ORIGINS", map[string]string{"ALLOWED_ORIGINS": "http://ops.example.test"}},
		{"origin wildcard host", "ALLOWED_ORIGINS", map[string]string{"ALLOWED_ORIGINS": "https://*.example.org"}},
		{"origin with path", "ALLOWED_ORIGINS", map[string]string{"ALLOWED_ORIGINS": "https://ops.example.test/dashboard"}},
		{"origin with trailing slash", "ALLOWED_ORIGINS", map[string]string{"ALLOWED_ORIGINS": "https://ops.example.test/"}},
		{"bearer of one character", "INTERNAL_API_BEARER", map[string]string{"INTERNAL_API_BEARER": strings.Repeat("a", 32)}},
		{"bearer of few characters", "INTERNAL_API_BEARER", map[string]string{"INTERNAL_API_BEARER": strings.Repeat("abcdefgh", 8)}},
		{"next bearer weak", "INTERNAL_API_BEARER", map[string]string{"INTERNAL_API_BEARER": testBearer + "," + strings.Repeat("0123456789abcde", 3)}},
		{"database in clear to a remote host", "DATABASE_URL", map[string]string{"DATABASE_URL": "postgres://voiceagent@db.example.test/voiceagent?sslmode=disable"}},
		{"database in clear to a remote address", "DATABASE_URL", map[string]string{"DATABASE_URL": "postgres://voiceagent@10.1.2.3:5432/voiceagent?sslmode=disable"}},
		{"pprof at all", "PPROF_ADDR", map[string]string{"PPROF_ADDR": "127.0.0.1:6060"}},
		{"no service number", "TWILIO_PHONE_NUMBER", map[string]string{"TWILIO_PHONE_NUMBER": ""}},
		{"tools may reach every IPv4 address", "TOOL_ALLOWED_NETWORKS", map[string]string{"TOOL_ALLOWED_NETWORKS": "10.0.0.0/8,0.0.0.0/0"}},
		{"tools may reach every IPv6 address", "TOOL_ALLOWED_NETWORKS", map[string]string{"TOOL_ALLOWED_NETWORKS": "::/0"}},
		{"REST API in clear", "TWILIO_API_BASE_URL", map[string]string{"TWILIO_API_BASE_URL": "http://api.twilio.test"}},
		{"tools may reach every mapped IPv4 address", "TOOL_ALLOWED_NETWORKS", map[string]string{"TOOL_ALLOWED_NETWORKS": "::ffff:0.0.0.0/96"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := prodEnv()
			for k, v := range tt.change {
				e[k] = v
			}
			_, err := Load(env(e))
			if err == nil || !strings.Contains(err.Error(), tt.variable) {
				t.Fatalf("Load error = %v, want one naming %s", err, tt.variable)
			}
			checks := LoadForCheck(env(e))
			found := false
			for _, c := range checks {
				if c.Status == Fail && checkVar(c.Name) == tt.variable {
					found = true
				}
				for _, v := range tt.change {
					if len(v) >= 4 && strings.Contains(c.String(), v) {
						t.Errorf("check line repeats a value: %v", c)
					}
				}
			}
			if !found {
				t.Fatalf("no FAIL line for %s: %v", tt.variable, checks)
			}
			for _, v := range tt.change {
				if len(v) >= 4 && strings.Contains(err.Error(), v) {
					t.Errorf("Load error repeats a value: %v", err)
				}
			}
		})
	}
}

// TestProductionAcceptsSafeVariants: the safe neighbours of the refused
// values still load.
func TestProductionAcceptsSafeVariants(t *testing.T) {
	for name, change := range map[string]map[string]string{
		"private metrics":          {"METRICS_ADDR": "10.0.0.5:9090"},
		"loopback metrics":         {"METRICS_ADDR": "127.0.0.1:9090"},
		"private proxies":          {"TRUSTED_PROXIES": "10.0.0.0/8,172.16.0.0/12,fc00::/7,127.0.0.1"},
		"exact origins":            {"ALLOWED_ORIGINS": "https://ops.example.test,https://ops.example.test:8443"},
		"local database in clear":  {"DATABASE_URL": "postgres://voiceagent@127.0.0.1:5432/voiceagent?sslmode=disable"},
		"socket database in clear": {"DATABASE_URL": "postgres://voiceagent@/voiceagent?host=/run/postgresql&sslmode=disable"},
		"remote database with TLS": {"DATABASE_URL": "postgres://voiceagent@db.example.test/voiceagent?sslmode=verify-full"},
		"tool network":             {"TOOL_ALLOWED_NETWORKS": "10.20.0.0/16,fd00:1::/64"},
		"hex bearer":               {"INTERNAL_API_BEARER": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
	} {
		t.Run(name, func(t *testing.T) {
			e := prodEnv()
			for k, v := range change {
				e[k] = v
			}
			if _, err := Load(env(e)); err != nil {
				t.Fatalf("Load: %v", err)
			}
		})
	}
}

// TestUnsafeWarnings: the settings that are allowed but worth a look are
// WARN lines, in production as elsewhere.
func TestUnsafeWarnings(t *testing.T) {
	e := prodEnv()
	e["AGENT_DIAL_POLICY"] = "any"
	e["LOG_LEVEL"] = "debug"
	e["AUTH_FAILURE_LIMIT"] = "101"
	c, err := Load(env(e))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"AGENT_DIAL_POLICY", "LOG_LEVEL", "AUTH_FAILURE_LIMIT"} {
		lines := linesFor(c.Checklist(), name)
		if len(lines) != 1 || lines[0].Status != Warn {
			t.Errorf("%s lines = %v, want one WARN", name, lines)
		}
	}
	good, _ := Load(env(prodEnv()))
	for _, name := range []string{"AGENT_DIAL_POLICY", "LOG_LEVEL", "AUTH_FAILURE_LIMIT", "APP_ENV"} {
		if lines := linesFor(good.Checklist(), name); len(lines) != 0 {
			t.Errorf("%s lines in a good configuration: %v", name, lines)
		}
	}
}

// TestDevelopmentDefaultsOnAPublicServer: APP_ENV forgotten on a server
// with a public https PUBLIC_URL is a warning; set, or on a local or
// reserved host, it is not.
func TestDevelopmentDefaultsOnAPublicServer(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		warn bool
	}{
		{map[string]string{"PUBLIC_URL": "https://voice.acme.com"}, true},
		{map[string]string{"PUBLIC_URL": "https://198.51.100.7"}, true},
		{map[string]string{"PUBLIC_URL": "https://voice.acme.com", "APP_ENV": "development"}, false},
		{map[string]string{"PUBLIC_URL": "http://voice.acme.com"}, false},
		{map[string]string{"PUBLIC_URL": "https://voice.example.test"}, false},
		{map[string]string{"PUBLIC_URL": "https://localhost:8443"}, false},
		{map[string]string{"PUBLIC_URL": "https://192.168.1.20"}, false},
		{map[string]string{}, false},
	} {
		c, err := Load(env(tc.env))
		if err != nil {
			t.Fatal(err)
		}
		got := c.DevelopmentDefaultsWarning() != ""
		lines := linesFor(c.Checklist(), "APP_ENV")
		if got != tc.warn || (len(lines) == 1) != tc.warn {
			t.Errorf("%v: warning %v, lines %v; want warning %v", tc.env, got, lines, tc.warn)
		}
	}
}

// TestProductionRefusesPatternedBearers: a bearer of sixteen or more
// distinct characters in equal numbers still has almost no entropy when it
// is a run ("0123456789abcdef...") or a block said twice; each is refused.
// Random tokens of the usual shapes pass.
func TestProductionRefusesPatternedBearers(t *testing.T) {
	for _, weak := range []string{
		"0123456789abcdef0123456789abcdef",
		"abcdefghijklmnopabcdefghijklmnop",
		"0123456789abcdefghijklmnopqrstuvwxyz",
		"fedcba9876543210fedcba9876543210fedcba98",
		"Zq8vN3xR7kLp2Wm9Zq8vN3xR7kLp2Wm9",
		"Zq8vN3xR7kLp2Wm9Zq8vN3xR7kLp2Wm9Zq8vN3xR7kLp2Wm9Zq8vN3xR7kLp2Wm9",
		"aceg0246ikmo8ACEGIKMOQSUWY13579bdfhjlnprtvxz",
	} {
		if !weakToken(weak) {
			t.Errorf("weakToken(%q) = false, want true", weak)
		}
	}
	for _, strong := range []string{
		"e4bb6e93aa933fe0d7f34fd9eb6b2ffa56ed62083a505acddeaf660edef07f3f",
		"a023344c1ce094c11e4c3e05ca99440bba88b65b263925f4ea5d589f742737bf",
		"cf57d041a321b409f010bbee1fb2df15dc18439e840aef3d5e3118cdbba00822",
		"vyllHwgUf6H-389thbRhKBiXA6SLatPdblWfR4y4Yu8",
		"s6wGanmyD-4q_6m31XIoC-YkT2mG0pmnB3mzd5oXwZY",
		"MjzqckGEw6KX0suLFRUFqE1RKzOqaocI3s1E-gz3YWc",
		testBearer,
	} {
		if weakToken(strong) {
			t.Errorf("weakToken(%q) = true, want false", strong)
		}
	}
}
