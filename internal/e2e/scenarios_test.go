package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/sim/scenario"
)

// TestSimulatorScenarios plays every `voiceagent simulate` scenario
// against the real server and fails on any unmet expectation; the rig
// then searches every log line and response body for leaks.
func TestSimulatorScenarios(t *testing.T) {
	// TOOL_ALLOWED_NETWORKS as the simulator sets it: the http-tool
	// scenario's endpoint listens on loopback.
	r := newRig(t, rigOptions{Env: map[string]string{"MAX_CONCURRENT_CALLS": "2", "TOOL_ALLOWED_NETWORKS": "127.0.0.0/8"}})
	rs := scenario.Run(ctxFor(t, 3*time.Minute), r.env, scenario.Scenarios())
	var out strings.Builder
	scenario.PrintResults(&out, rs)
	t.Log("\n" + out.String())
	for _, res := range rs {
		if !res.OK() {
			t.Errorf("%s: %v", res.Scenario, res.Err)
		}
	}
}
