package relay

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/redact"
	"github.com/voiceagent/voiceagent/internal/transcript"
)

// modelHalf is the model socket's reader and what only it uses: the
// decoded event, the audio scratch and the partial frame carried between
// deltas, the agent's transcript text being assembled, the tool calls
// seen and the model's error and transcript counts. readModel creates it
// and no other goroutine can reach it; it reaches the rest of the call
// through Call.
type modelHalf struct {
	*Call
	ev            modelEvent
	audio         []byte // decoded delta (agent audio)
	carry         []byte // a partial frame waiting for the next delta of carryItem
	carryItem     string
	agentItem     string
	agentText     strings.Builder
	toolsSeen     map[string]bool
	toolsResp     int            // function calls of the current response
	toolWorkers   int            // tool workers started
	toolQ         chan modelItem // function calls for the tool workers (made at the first)
	modelErrors   int            // error events from the model
	transcriptIn  int            // transcript text received (deltas and finals)
	transcriptOut int            // transcript bytes handed to the store
	received      int
	buf           *[]byte // the read buffer of the event being handled (pooled)
}

func (c *Call) newModelHalf() *modelHalf {
	return &modelHalf{Call: c, carry: make([]byte, 0, FrameBytes), toolsSeen: make(map[string]bool)}
}

// readModel is the model socket's reader goroutine.
func (c *Call) readModel(conn *websocket.Conn) {
	h := c.newModelHalf()
	defer h.exit()
	h.read(conn)
}

// exit stores the agent's unfinished transcript line, zeroes the half's
// buffers (they held agent audio; the read buffer of an event whose
// handling did not finish goes back to the pool) and stores its message
// count for teardown.
func (h *modelHalf) exit() {
	h.release()
	h.flushAgentText()
	clear(h.audio[:cap(h.audio)])
	clear(h.carry[:cap(h.carry)])
	h.audio, h.carry = nil, nil
	h.Call.received.model.Store(int64(h.received))
}

// release returns the read buffer of the event just handled to the pool
// (zeroed) and forgets the event, whose fields pointed into it.
func (h *modelHalf) release() {
	h.r.reads.put(h.buf)
	h.buf = nil
	h.ev = modelEvent{}
}

func (h *modelHalf) read(conn *websocket.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(modelIdleTimeout))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(modelIdleTimeout))
	})
	var extended time.Time
	for {
		h.release() // the previous event's buffer
		buf, _, err := readMessage(conn, h.r.reads, modelReadLimit, 0)
		h.buf = buf
		if err != nil {
			if h.ctx.Err() == nil {
				h.log.Warn("model socket closed", "err", err)
				h.reportError(sourceModel, string(endModelClosed), "the model socket closed", true)
			}
			h.end(endModelClosed)
			return
		}
		h.received++
		now := time.Now()
		if now.Sub(extended) > time.Second {
			_ = conn.SetReadDeadline(now.Add(modelIdleTimeout))
			extended = now
		}
		if err := decodeModel(*buf, &h.ev); err != nil {
			h.log.Debug("ignoring a malformed model event", "err", err)
			continue
		}
		h.onModel(&h.ev, now)
	}
}

// onModel handles one event: audio deltas, nearly every event, here; the
// rest aside.
func (h *modelHalf) onModel(e *modelEvent, now time.Time) {
	if h.budgetHit.Load() {
		return // the call is ending; nothing more from this model
	}
	if e.Kind == mkAudioDelta && len(e.ItemID) <= h.budget.ItemIDBytes {
		h.onAudioDelta(e, now)
		return
	}
	aside(func() { h.onOther(e, now) })
}

// onOther handles an event other than an audio delta (and a delta whose
// item id is over the budget).
func (h *modelHalf) onOther(e *modelEvent, now time.Time) {
	h.hook("model_event")
	if len(e.ItemID) > h.budget.ItemIDBytes {
		h.overBudget(limitItemID)
		return
	}
	switch e.Kind {
	case mkAudioDelta:
		h.onAudioDelta(e, now)
	case mkAudioDone:
		h.flushCarry(now)
	case mkSpeechStarted:
		h.lastActivity.Store(now.UnixNano())
		h.bargeIn()
	case mkSpeechStopped:
		h.stats.callerStopped(now)
	case mkAgentTranscriptDelta:
		if item := string(e.ItemID); item != h.agentItem {
			h.flushAgentText()
			h.agentItem = item
		}
		// Bounded before it is decoded: len(Delta) is at least the text.
		if !h.takeTranscript(len(e.Delta)) || h.agentText.Len()+len(e.Delta) > h.budget.TranscriptItemBytes {
			h.overBudget(limitTranscriptItem)
			return
		}
		h.agentText.WriteString(e.deltaText())
	case mkAgentTranscriptDone:
		if !h.takeTranscript(len(e.Transcript.raw)) {
			return
		}
		text := e.Transcript.text()
		if text == "" {
			text = h.agentText.String()
		}
		h.agentText.Reset()
		h.agentItem = ""
		h.transcript(transcript.RoleAgent, text)
	case mkCallerTranscript:
		if !h.takeTranscript(len(e.Transcript.raw)) {
			return
		}
		h.transcript(transcript.RoleCaller, e.Transcript.text())
	case mkResponseCreated:
		h.toolsResp = 0
		d, err := e.detail()
		if err == nil {
			h.state.responseCreated(d.Response.ID, isGoodbye(d.Response.Metadata))
		}
	case mkResponseDone:
		d, err := e.detail()
		if err != nil {
			return
		}
		h.flushCarry(now)
		h.flushAgentText()
		for _, it := range d.Response.Output {
			if it.Type == "function_call" && it.Status == "completed" {
				h.startTool(it)
			}
		}
		h.toolsResp = 0
		h.stats.responseUsage(d.Response.Usage)
		h.onResponseDone(d.Response.ID)
	case mkOutputItemDone:
		if d, err := e.detail(); err == nil && d.Item.Type == "function_call" {
			h.startTool(d.Item)
		}
	case mkError:
		d, _ := e.detail()
		h.onModelError(d.Error)
	case mkTruncated:
		h.log.Debug("model confirmed truncation", "item_id", string(e.ItemID))
	}
}

// errActiveResponse is the code of a response.create refused because a
// response is already running.
const errActiveResponse = "conversation_already_has_active_response"

func (h *modelHalf) onModelError(me modelError) {
	// Model-chosen strings reach logs, events and audit rows: bounded.
	me.Code, me.Type, me.EventID = clip(me.Code, maxErrorCode), clip(me.Type, maxErrorCode), clip(me.EventID, maxErrorCode)
	conflict := me.Code == errActiveResponse
	if h.onCreateRefused(me.EventID, conflict) && conflict {
		// Routine (server VAD started a response first): retried after
		// response.done, so not reported.
		h.log.Debug("response deferred: another response is active")
		return
	}
	if h.modelErrors++; h.modelErrors > h.budget.ErrorEvents {
		h.overBudget(limitErrorEvents)
		return
	}
	switch me.Code {
	case errActiveResponse:
		h.log.Debug("model refused an event: a response is active", "event_id", me.EventID)
	case "session_expired":
		h.warn("model session expired", "message", redact.Text(me.Message))
		h.reportError(sourceModel, me.Code, "the model session expired", true)
		h.end(endSessionExpired)
	default:
		h.warn("model error", "code", me.Code, "type", me.Type, "event_id", me.EventID, "message", redact.Text(me.Message))
		h.reportError(sourceModel, me.Code, me.Message, true)
	}
}

// onAudioDelta re-frames one model audio delta into 20 ms Twilio media
// messages followed by one mark, all in one queue entry. A partial frame is
// carried to the next delta of the same item.
func (h *modelHalf) onAudioDelta(e *modelEvent, now time.Time) {
	sid, ok := h.state.playTarget(e.ItemID)
	if !ok || e.deltaEscaped {
		return // a late delta of an interrupted item, or nowhere to play it
	}
	need := base64.StdEncoding.DecodedLen(len(e.Delta))
	if cap(h.audio) < need {
		clear(h.audio[:cap(h.audio)]) // the outgrown array held agent audio
		h.audio = make([]byte, need)
	}
	n, err := base64.StdEncoding.Decode(h.audio[:need], e.Delta)
	if err != nil {
		h.log.Debug("ignoring an audio delta that is not base64")
		return
	}
	audio := h.audio[:n]
	if len(h.carry) > 0 && h.carryItem != string(e.ItemID) {
		h.flushCarry(now)
	}
	h.lastActivity.Store(now.UnixNano())
	b := h.r.pool.get()
	b.reserve((len(h.carry)+len(audio))/FrameBytes*twilioMediaLen(len(sid)) + twilioMarkMaxLen(len(sid)))
	frames := 0
	if len(h.carry) > 0 {
		k := min(FrameBytes-len(h.carry), len(audio))
		h.carry = append(h.carry, audio[:k]...)
		audio = audio[k:]
		if len(h.carry) == FrameBytes {
			b.b = appendTwilioMedia(b.b, sid, h.carry)
			b.add()
			frames++
			h.carry = h.carry[:0]
		}
	}
	for len(audio) >= FrameBytes {
		b.b = appendTwilioMedia(b.b, sid, audio[:FrameBytes])
		b.add()
		frames++
		audio = audio[FrameBytes:]
	}
	if len(audio) > 0 {
		h.carry = append(h.carry, audio...)
		h.carryItem = string(e.ItemID)
	}
	if frames == 0 {
		h.r.pool.put(b)
		return
	}
	seq, _, items, marks := h.state.queued(e.ItemID, frames*FrameBytes, 0)
	switch {
	case items > h.budget.PendingItems:
		h.overBudget(limitPendingItems)
	case marks > h.budget.PendingMarks:
		h.overBudget(limitPendingMarks)
	}
	b.b = appendTwilioMark(b.b, sid, seq)
	b.add()
	h.tw.send(h.ctx, b.audio(now, frames))
	h.stats.agentAudio(now)
}

// flushCarry sends a partial last frame, padded with silence.
func (h *modelHalf) flushCarry(now time.Time) {
	if len(h.carry) == 0 {
		return
	}
	real := len(h.carry)
	seq, sid, _, _ := h.state.queued([]byte(h.carryItem), real, FrameBytes-real)
	for len(h.carry) < FrameBytes {
		h.carry = append(h.carry, 0xFF) // mu-law silence
	}
	b := h.r.pool.get()
	b.reserve(twilioMediaLen(len(sid)) + twilioMarkMaxLen(len(sid)))
	b.b = appendTwilioMedia(b.b, sid, h.carry)
	b.add()
	b.b = appendTwilioMark(b.b, sid, seq)
	b.add()
	h.carry = h.carry[:0]
	h.tw.send(h.ctx, b.audio(now, 1))
	h.stats.agentAudio(now)
}

// bargeIn handles speech_started: when agent audio is still playing, flush
// Twilio's buffer and tell the model how much of its answer was heard.
func (h *modelHalf) bargeIn() {
	truncs, clr, sid := h.state.interrupt()
	if !clr {
		return
	}
	h.carry = h.carry[:0]
	h.tw.drain() // unsent agent audio is moot; only this goroutine queues to Twilio
	b := h.r.pool.get()
	b.b = appendTwilioClear(b.b, sid)
	b.add()
	h.tw.send(h.ctx, b)
	for _, t := range truncs {
		h.model.sendBytes(h.ctx, appendTruncate(nil, t.itemID, t.audioEndMs))
	}
	h.r.m.BargeIns.Inc()
	h.log.Debug("caller interrupted the agent", "truncated", len(truncs))
}

func (h *modelHalf) flushAgentText() {
	if h.agentText.Len() > 0 {
		h.transcript(transcript.RoleAgent, h.agentText.String())
	}
	h.agentText.Reset()
	h.agentItem = ""
}

// maxTranscriptLine caps one stored line (the model can be verbose).
const maxTranscriptLine = 8 << 10

// takeTranscript counts n bytes of transcript text received against the
// call's budget; false means the call is over it (and ending).
func (h *modelHalf) takeTranscript(n int) bool {
	h.transcriptIn += n
	if h.transcriptIn > h.budget.TranscriptCallBytes {
		h.overBudget(limitTranscriptCall)
		return false
	}
	return true
}

// transcript stores a line and publishes it to live viewers.
func (h *modelHalf) transcript(role, text string) {
	text = cleanText(text)
	if text == "" {
		return
	}
	if len(text) > maxTranscriptLine {
		text = strings.ToValidUTF8(text[:maxTranscriptLine], "")
	}
	h.transcriptOut += len(text) + transcriptRowOverhead
	if h.transcriptOut > h.budget.StoredTranscriptBytes {
		h.overBudget(limitStoredTranscript)
		return
	}
	now := time.Now().UTC()
	h.r.transcripts.add(transcript.Line{CallSID: h.callSID, Role: role, Text: text, Time: now})
	h.publish(events.TranscriptLine, map[string]any{"role": role, "text": redact.Text(shorten(text))})
}
