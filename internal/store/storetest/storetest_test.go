package storetest

import (
	"fmt"
	"strings"
	"testing"
)

// outcome records what SkipNoPostgres asked of the test instead of ending
// it.
type outcome struct {
	testing.TB
	fatal, skip string
}

func (o *outcome) Helper()                        {}
func (o *outcome) Fatalf(format string, a ...any) { o.fatal = fmt.Sprintf(format, a...) }
func (o *outcome) Skipf(format string, a ...any)  { o.skip = fmt.Sprintf(format, a...) }

func TestSkipNoPostgresFailsWhereRequired(t *testing.T) {
	tests := []struct {
		name, ci, require string
		wantFatal         bool
	}{
		{"local", "", "", false},
		{"CI=true", "true", "", true},
		{"VOICEAGENT_REQUIRE_POSTGRES=1", "", "1", true},
		{"CI=false", "false", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("CI", tt.ci)
			t.Setenv(RequirePostgresEnv, tt.require)
			o := &outcome{TB: t}
			SkipNoPostgres(o, PostgresEnv+" is not set")
			msg := o.skip
			if got, want := o.fatal != "", tt.wantFatal; got != want {
				t.Fatalf("failed = %v, want %v (fatal %q, skip %q)", got, want, o.fatal, o.skip)
			}
			if tt.wantFatal {
				msg = o.fatal
			} else if o.skip == "" {
				t.Fatal("neither skipped nor failed")
			}
			for _, want := range []string{PostgresEnv, ".ci/postgres.sh"} {
				if !strings.Contains(msg, want) {
					t.Errorf("message %q does not name %s", msg, want)
				}
			}
		})
	}
}
