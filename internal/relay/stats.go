package relay

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/voiceagent/voiceagent/internal/calllog"
)

// StatsStore keeps what the relay measured during a call
// (store.CallStatsStore): written once per call, at teardown.
type StatsStore interface {
	SaveCallStats(ctx context.Context, st calllog.Stats) error
}

// maxResponseSamples bounds the response latencies one call keeps for
// its median; later answers still count towards the maximum.
const maxResponseSamples = 512

// callStats is what a call's details report about it, gathered in memory
// and stored at teardown (never a write per frame). Each part has one
// writer: the stream start is the Twilio reader's (atomic, read by the
// model reader); latencies and usage are the model reader's; tool records
// come from the tool workers, under mu. Teardown reads everything after
// those goroutines have ended (c.wg.Wait).
type callStats struct {
	streamStart atomic.Int64 // unix ns of the Twilio start message; 0 before

	// Model reader only.
	firstAudio    time.Duration // 0: no agent audio yet
	speechStopped time.Time     // the caller's speech ended; zero once answered
	responses     []int64       // ms from speech_stopped to the answer's first audio
	responseMax   int64
	answered      int
	usage         calllog.Usage

	mu    sync.Mutex
	tools []calllog.Tool
}

// started records the stream's start (the Twilio start message).
func (s *callStats) started(now time.Time) { s.streamStart.CompareAndSwap(0, now.UnixNano()) }

// agentAudio records agent audio handed to the caller's socket.
func (s *callStats) agentAudio(now time.Time) {
	if s.firstAudio == 0 {
		if start := s.streamStart.Load(); start != 0 {
			s.firstAudio = max(now.Sub(time.Unix(0, start)), time.Millisecond)
		}
	}
	if s.speechStopped.IsZero() {
		return
	}
	ms := now.Sub(s.speechStopped).Milliseconds()
	s.speechStopped = time.Time{}
	s.answered++
	s.responseMax = max(s.responseMax, ms)
	if len(s.responses) < maxResponseSamples {
		s.responses = append(s.responses, ms)
	}
}

// callerStopped records the model's speech_stopped: the answer's latency
// runs from here (a later speech_stopped, the caller going on, restarts it).
func (s *callStats) callerStopped(now time.Time) { s.speechStopped = now }

// responseUsage adds a response.done's usage.
func (s *callStats) responseUsage(u modelUsage) {
	s.usage.InputTokens += max(u.InputTokens, 0)
	s.usage.OutputTokens += max(u.OutputTokens, 0)
}

// tool records one finished tool call.
func (s *callStats) tool(name string, res toolResult, took time.Duration, at time.Time) {
	outcome := calllog.ToolOK
	switch {
	case res.refused || res.label == "unknown":
		outcome = calllog.ToolRefused
	case res.label != "ok":
		outcome = calllog.ToolError
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.tools) < calllog.MaxTools {
		s.tools = append(s.tools, calllog.Tool{Name: name, Outcome: outcome, DurationMs: took.Milliseconds(), At: at.UTC()})
	}
}

// snapshot is the call's measurements, for storing.
func (s *callStats) snapshot(callSID string, now time.Time) calllog.Stats {
	st := calllog.Stats{CallSID: callSID, RecordedAt: now.UTC(), Responses: s.answered, Usage: s.usage}
	if s.firstAudio > 0 {
		ms := s.firstAudio.Milliseconds()
		st.Latency.FirstAudioMs = &ms
	}
	if s.answered > 0 {
		st.Latency.ResponseP50Ms = calllog.Percentile50(s.responses)
		mx := s.responseMax
		st.Latency.ResponseMaxMs = &mx
	}
	s.mu.Lock()
	st.Tools = append([]calllog.Tool(nil), s.tools...)
	s.mu.Unlock()
	return st
}

// saveStats stores the call's measurements after its transcript lines
// (so whoever reads the details once the call is marked ended finds
// both). It runs in teardown, after every goroutine of the call ended.
func (c *Call) saveStats(ctx context.Context) {
	st := c.r.StatsStore
	if st == nil || !c.stats.wasStarted() {
		return
	}
	c.r.transcripts.sync(ctx)
	if err := st.SaveCallStats(ctx, c.stats.snapshot(c.callSID, time.Now())); err != nil {
		c.log.Warn("storing the call's measurements failed", "err", err)
	}
}

func (s *callStats) wasStarted() bool { return s.streamStart.Load() != 0 }
