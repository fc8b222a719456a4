package fake

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// RealtimeOptions configures a fake Realtime server. The zero value is a GA
// server with fast emission and the defaults documented on each field.
type RealtimeOptions struct {
	// APIKey is the bearer token clients must send; empty accepts any
	// non-empty bearer token.
	APIKey string
	// Beta switches to the preview event names (response.audio.delta,
	// response.audio_transcript.delta, conversation.item.created) and the
	// beta session shape.
	Beta bool
	// RejectBetaHeader makes a GA server close connections that send an
	// OpenAI-Beta header with code 4000 beta_api_shape_disabled.
	RejectBetaHeader bool
	// AcceptDelay holds every upgrade (and so session.created) back, to
	// test pre-warm buffering in the client.
	AcceptDelay time.Duration

	// ChunkBytes is the mu-law size of one audio delta (default 800 = 100 ms).
	ChunkBytes int
	// Chunks is the number of audio deltas per assistant item (default 5).
	Chunks int
	// Paced emits one audio delta per chunk duration, like real-time
	// playback; by default deltas are sent as fast as the socket allows.
	Paced bool
	// ChunkInterval, if set, is the pause between audio deltas and
	// overrides Paced.
	ChunkInterval time.Duration
	// ResponseDelay is the pause between response.created and the first
	// output item (time to first audio).
	ResponseDelay time.Duration
	// ProbeAudio fills assistant audio with probe frames (see
	// EncodeProbeFrame) numbered per session from 1; ChunkBytes should then
	// be a multiple of FrameBytes.
	ProbeAudio bool
	// Responses scripts audio responses in order; responses past the end of
	// the script use the defaults.
	Responses []ScriptedResponse
	// UserTranscripts scripts the transcripts of committed user turns.
	UserTranscripts []string

	// VADThreshold is the mean |linear sample| above which a 20 ms frame is
	// speech (default 500).
	VADThreshold int
	// SpeechFrames is how many consecutive speech frames start speech
	// (default 3).
	SpeechFrames int
	// SilenceMs is how much silence ends speech; default: the session's
	// turn_detection.silence_duration_ms, else 500.
	SilenceMs int

	// LateDeltasAfterCancel sends this many extra audio deltas for a
	// cancelled item after its response.done (fault injection).
	LateDeltasAfterCancel int
	// ExpireAfter sends a session_expired error and closes the socket after
	// this long (fault injection).
	ExpireAfter time.Duration
	// RespondToToolOutput makes the server start a response of its own as
	// soon as a function_call_output item arrives (as server VAD may when
	// the caller keeps talking), so a response.create the client sends
	// right after the output meets the one-active-response rule
	// (conversation_already_has_active_response) every time.
	RespondToToolOutput bool
	// DiscardAudio keeps appends out of the recording (Appended, Events);
	// AppendCount and InputMs still run. For load tests.
	DiscardAudio bool
	// InputTokens and OutputTokens are the usage each finished response
	// reports in response.done (default 0, as before).
	InputTokens, OutputTokens int
	// OnAudioAppended is called by the session reader with the decoded audio
	// of every input_audio_buffer.append and its receive time. The slice is
	// reused after the call returns.
	OnAudioAppended func(s *RealtimeSession, audio []byte, at time.Time)
	// OnAudioSent is called by the session writer after an audio delta has
	// been written, with its decoded audio and the write time.
	OnAudioSent func(s *RealtimeSession, audio []byte, at time.Time)
	// Listener, when set, is served instead of a fresh random loopback
	// port, so a separately started server can be pointed at a known
	// address (the simulator's --realtime-listen). Close closes it.
	Listener net.Listener
}

// ScriptedResponse scripts one audio response.
type ScriptedResponse struct {
	// Transcript is spread over the transcript deltas of the first item.
	Transcript string
	// Chunks overrides RealtimeOptions.Chunks for each item.
	Chunks int
	// Items is the number of assistant audio items (default 1).
	Items int
}

// ToolCall scripts a function call the model makes.
type ToolCall struct {
	Name      string
	Arguments string
}

// Realtime is a fake OpenAI Realtime API server listening on loopback.
type Realtime struct {
	opts     RealtimeOptions
	srv      *httptest.Server
	upgrader websocket.Upgrader
	open     atomic.Int64
	changed  signal
	wg       sync.WaitGroup

	mu          sync.Mutex
	sessions    []*RealtimeSession
	tools       []ToolCall
	createFails []ServerError
	closed      bool
}

// NewRealtime starts a fake Realtime server. Call Close when done.
func NewRealtime(opts RealtimeOptions) *Realtime {
	if opts.ChunkBytes <= 0 {
		opts.ChunkBytes = 800
	}
	if opts.Chunks <= 0 {
		opts.Chunks = 5
	}
	if opts.VADThreshold <= 0 {
		opts.VADThreshold = 500
	}
	if opts.SpeechFrames <= 0 {
		opts.SpeechFrames = 3
	}
	r := &Realtime{opts: opts}
	r.upgrader = websocket.Upgrader{
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
		WriteBufferPool: &sync.Pool{},
		CheckOrigin:     func(*http.Request) bool { return true },
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v1/realtime", r.handle)
	r.srv = httptest.NewUnstartedServer(mux)
	if opts.Listener != nil {
		r.srv.Listener.Close()
		r.srv.Listener = opts.Listener
	}
	r.srv.Start()
	return r
}

// URL returns ws://127.0.0.1:port/v1/realtime?model=gpt-realtime.
func (r *Realtime) URL() string { return r.URLWithModel("gpt-realtime") }

// URLWithModel returns the WebSocket URL for the given model.
func (r *Realtime) URLWithModel(model string) string {
	return "ws" + strings.TrimPrefix(r.srv.URL, "http") + "/v1/realtime?model=" + model
}

// BaseURL returns http://127.0.0.1:port, for clients that derive the
// WebSocket URL themselves.
func (r *Realtime) BaseURL() string { return r.srv.URL }

// Close closes every session socket and stops the server.
func (r *Realtime) Close() {
	r.mu.Lock()
	r.closed = true
	sessions := append([]*RealtimeSession(nil), r.sessions...)
	r.mu.Unlock()
	for _, s := range sessions {
		s.CloseAbruptly()
	}
	r.srv.Close()
	r.wg.Wait()
}

// OpenSessions is the number of currently connected session sockets.
func (r *Realtime) OpenSessions() int { return int(r.open.Load()) }

// Sessions returns every session accepted so far, in connection order.
func (r *Realtime) Sessions() []*RealtimeSession {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*RealtimeSession(nil), r.sessions...)
}

// NextResponseCallsTool makes the next response of any session (one that
// has no tool call queued itself) a call of the named function with the
// given JSON arguments instead of audio.
func (r *Realtime) NextResponseCallsTool(name, argsJSON string) {
	r.mu.Lock()
	r.tools = append(r.tools, ToolCall{Name: name, Arguments: argsJSON})
	r.mu.Unlock()
}

// FailNextResponseCreate makes the next response.create of any session
// fail with an error event of this code and message (its error.event_id is
// the client's event_id); no response starts (fault injection).
func (r *Realtime) FailNextResponseCreate(code, message string) {
	r.mu.Lock()
	r.createFails = append(r.createFails, ServerError{Code: code, Message: message})
	r.mu.Unlock()
}

func (r *Realtime) popCreateFail() (ServerError, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.createFails) == 0 {
		return ServerError{}, false
	}
	e := r.createFails[0]
	r.createFails = r.createFails[1:]
	return e, true
}

func (r *Realtime) popTool() (ToolCall, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.tools) == 0 {
		return ToolCall{}, false
	}
	tc := r.tools[0]
	r.tools = r.tools[1:]
	return tc, true
}

// WaitFor blocks until pred returns true or ctx ends. pred is re-evaluated
// whenever any session records something, and at least every 50 ms.
func (r *Realtime) WaitFor(ctx context.Context, pred func() bool) error {
	return r.changed.waitFor(ctx, pred)
}

// WaitSession waits until at least n sessions have connected and returns
// the n-th (1-based).
func (r *Realtime) WaitSession(ctx context.Context, n int) (*RealtimeSession, error) {
	var s *RealtimeSession
	err := r.WaitFor(ctx, func() bool {
		ss := r.Sessions()
		if len(ss) >= n {
			s = ss[n-1]
			return true
		}
		return false
	})
	return s, err
}

func (r *Realtime) handle(w http.ResponseWriter, req *http.Request) {
	auth := req.Header.Get("Authorization")
	key, ok := strings.CutPrefix(auth, "Bearer ")
	if !ok || key == "" || (r.opts.APIKey != "" && key != r.opts.APIKey) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error":{"type":"invalid_request_error","code":"invalid_api_key","message":"Incorrect API key provided."}}`))
		return
	}
	if r.opts.AcceptDelay > 0 {
		select {
		case <-time.After(r.opts.AcceptDelay):
		case <-req.Context().Done():
			return
		}
	}
	conn, err := r.upgrader.Upgrade(w, req, nil)
	if err != nil {
		return
	}
	model := req.URL.Query().Get("model")
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		conn.Close()
		return
	}
	s := newRealtimeSession(r, conn, len(r.sessions)+1, model, req.Header.Clone())
	r.sessions = append(r.sessions, s)
	r.wg.Add(1)
	r.mu.Unlock()
	r.open.Add(1)
	r.changed.notify()
	defer r.wg.Done()
	if r.opts.RejectBetaHeader && !r.opts.Beta && req.Header.Get("OpenAI-Beta") != "" {
		s.rejectBeta()
	}
	s.run()
	r.open.Add(-1)
	r.changed.notify()
}

// signal is a cheap broadcast: notify is a no-op unless someone waits.
type signal struct{ ch atomic.Pointer[chan struct{}] }

func (s *signal) notify() {
	if p := s.ch.Swap(nil); p != nil {
		close(*p)
	}
}

func (s *signal) wait() <-chan struct{} {
	for {
		if p := s.ch.Load(); p != nil {
			return *p
		}
		ch := make(chan struct{})
		if s.ch.CompareAndSwap(nil, &ch) {
			return ch
		}
	}
}

func (s *signal) waitFor(ctx context.Context, pred func() bool) error {
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		ch := s.wait()
		if pred() {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
