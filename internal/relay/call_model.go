package relay

import (
	"encoding/base64"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/redact"
)

// readModel is the model socket's reader goroutine.
func (c *Call) readModel(conn *websocket.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(modelIdleTimeout))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(modelIdleTimeout))
	})
	// Grown on demand by readMessage; most events are a few hundred bytes.
	buf := make([]byte, 0, 2<<10)
	defer func() { clear(buf[:cap(buf)]) }() // it held agent audio
	var extended time.Time
	for {
		msg, _, err := readMessage(conn, buf, modelReadLimit, 0)
		if msg != nil {
			buf = msg[:0]
		}
		if err != nil {
			if c.ctx.Err() == nil {
				c.log.Warn("model socket closed", "err", err)
				c.reportError(sourceModel, string(endModelClosed), "the model socket closed", true)
			}
			c.end(endModelClosed)
			return
		}
		c.counts.fromModel++
		now := time.Now()
		if now.Sub(extended) > time.Second {
			_ = conn.SetReadDeadline(now.Add(modelIdleTimeout))
			extended = now
		}
		if err := decodeModel(msg, &c.ev); err != nil {
			c.log.Debug("ignoring a malformed model event", "err", err)
			continue
		}
		c.onModel(&c.ev, now)
	}
}

func (c *Call) onModel(e *modelEvent, now time.Time) {
	if c.budgetHit.Load() {
		return // the call is ending; nothing more from this model
	}
	if len(e.ItemID) > c.budget.ItemIDBytes {
		c.overBudget(limitItemID)
		return
	}
	switch e.Kind {
	case mkAudioDelta:
		c.onAudioDelta(e, now)
	case mkAudioDone:
		c.flushCarry(now)
	case mkSpeechStarted:
		c.lastActivity.Store(now.UnixNano())
		c.bargeIn()
	case mkSpeechStopped:
		c.stats.callerStopped(now)
	case mkAgentTranscriptDelta:
		if item := string(e.ItemID); item != c.agentItem {
			c.flushAgentText()
			c.agentItem = item
		}
		// Bounded before it is decoded: len(Delta) is at least the text.
		if !c.takeTranscript(len(e.Delta)) || c.agentText.Len()+len(e.Delta) > c.budget.TranscriptItemBytes {
			c.overBudget(limitTranscriptItem)
			return
		}
		c.agentText.WriteString(e.deltaText())
	case mkAgentTranscriptDone:
		if !c.takeTranscript(len(e.Transcript.raw)) {
			return
		}
		text := e.Transcript.text()
		if text == "" {
			text = c.agentText.String()
		}
		c.agentText.Reset()
		c.agentItem = ""
		c.transcript(RoleAgent, text)
	case mkCallerTranscript:
		if !c.takeTranscript(len(e.Transcript.raw)) {
			return
		}
		c.transcript(RoleCaller, e.Transcript.text())
	case mkResponseCreated:
		c.toolsResp = 0
		d, err := e.detail()
		if err == nil {
			c.onResponseCreated(d.Response.ID, isGoodbye(d.Response.Metadata))
		}
	case mkResponseDone:
		d, err := e.detail()
		if err != nil {
			return
		}
		c.flushCarry(now)
		c.flushAgentText()
		for _, it := range d.Response.Output {
			if it.Type == "function_call" && it.Status == "completed" {
				c.startTool(it)
			}
		}
		c.toolsResp = 0
		c.stats.responseUsage(d.Response.Usage)
		c.onResponseDone(d.Response.ID)
	case mkOutputItemDone:
		if d, err := e.detail(); err == nil && d.Item.Type == "function_call" {
			c.startTool(d.Item)
		}
	case mkError:
		d, _ := e.detail()
		c.onModelError(d.Error)
	case mkTruncated:
		c.log.Debug("model confirmed truncation", "item_id", string(e.ItemID))
	}
}

// errActiveResponse is the code of a response.create refused because a
// response is already running.
const errActiveResponse = "conversation_already_has_active_response"

func (c *Call) onModelError(me modelError) {
	// Model-chosen strings reach logs, events and audit rows: bounded.
	me.Code, me.Type, me.EventID = clip(me.Code, maxErrorCode), clip(me.Type, maxErrorCode), clip(me.EventID, maxErrorCode)
	conflict := me.Code == errActiveResponse
	if c.onCreateRefused(me.EventID, conflict) && conflict {
		// Routine (server VAD started a response first): retried after
		// response.done, so not reported.
		c.log.Debug("response deferred: another response is active")
		return
	}
	if c.modelErrors++; c.modelErrors > c.budget.ErrorEvents {
		c.overBudget(limitErrorEvents)
		return
	}
	switch me.Code {
	case errActiveResponse:
		c.log.Debug("model refused an event: a response is active", "event_id", me.EventID)
	case "session_expired":
		c.warn("model session expired", "message", redact.Text(me.Message))
		c.reportError(sourceModel, me.Code, "the model session expired", true)
		c.end(endSessionExpired)
	default:
		c.warn("model error", "code", me.Code, "type", me.Type, "event_id", me.EventID, "message", redact.Text(me.Message))
		c.reportError(sourceModel, me.Code, me.Message, true)
	}
}

// onAudioDelta re-frames one model audio delta into 20 ms Twilio media
// messages followed by one mark, all in one queue entry. A partial frame is
// carried to the next delta of the same item.
func (c *Call) onAudioDelta(e *modelEvent, now time.Time) {
	c.mu.Lock()
	dropped := c.pb.isDropped(e.ItemID)
	started, sid := c.started, c.streamSID
	c.mu.Unlock()
	if dropped || !started || e.deltaEscaped {
		return // a late delta of an interrupted item, or nowhere to play it
	}
	need := base64.StdEncoding.DecodedLen(len(e.Delta))
	if cap(c.audio) < need {
		clear(c.audio[:cap(c.audio)]) // the outgrown array held agent audio
		c.audio = make([]byte, need)
	}
	n, err := base64.StdEncoding.Decode(c.audio[:need], e.Delta)
	if err != nil {
		c.log.Debug("ignoring an audio delta that is not base64")
		return
	}
	audio := c.audio[:n]
	if len(c.carry) > 0 && c.carryItem != string(e.ItemID) {
		c.flushCarry(now)
	}
	c.lastActivity.Store(now.UnixNano())
	b := c.r.pool.get()
	b.reserve((len(c.carry)+len(audio))/FrameBytes*twilioMediaLen(len(sid)) + twilioMarkMaxLen(len(sid)))
	frames := 0
	if len(c.carry) > 0 {
		k := min(FrameBytes-len(c.carry), len(audio))
		c.carry = append(c.carry, audio[:k]...)
		audio = audio[k:]
		if len(c.carry) == FrameBytes {
			b.b = appendTwilioMedia(b.b, sid, c.carry)
			b.add()
			frames++
			c.carry = c.carry[:0]
		}
	}
	for len(audio) >= FrameBytes {
		b.b = appendTwilioMedia(b.b, sid, audio[:FrameBytes])
		b.add()
		frames++
		audio = audio[FrameBytes:]
	}
	if len(audio) > 0 {
		c.carry = append(c.carry, audio...)
		c.carryItem = string(e.ItemID)
	}
	if frames == 0 {
		c.r.pool.put(b)
		return
	}
	c.mu.Lock()
	seq := c.pb.sent(e.ItemID, frames*FrameBytes, 0)
	items, marks := len(c.pb.older), len(c.pb.marks)
	c.mu.Unlock()
	switch {
	case items > c.budget.PendingItems:
		c.overBudget(limitPendingItems)
	case marks > c.budget.PendingMarks:
		c.overBudget(limitPendingMarks)
	}
	b.b = appendTwilioMark(b.b, sid, seq)
	b.add()
	c.tw.send(c.ctx, outItem{buf: b, read: now, frames: frames})
	c.stats.agentAudio(now)
}

// flushCarry sends a partial last frame, padded with silence.
func (c *Call) flushCarry(now time.Time) {
	if len(c.carry) == 0 {
		return
	}
	c.mu.Lock()
	sid := c.streamSID
	real := len(c.carry)
	seq := c.pb.sent([]byte(c.carryItem), real, FrameBytes-real)
	c.mu.Unlock()
	for len(c.carry) < FrameBytes {
		c.carry = append(c.carry, 0xFF) // mu-law silence
	}
	b := c.r.pool.get()
	b.reserve(twilioMediaLen(len(sid)) + twilioMarkMaxLen(len(sid)))
	b.b = appendTwilioMedia(b.b, sid, c.carry)
	b.add()
	b.b = appendTwilioMark(b.b, sid, seq)
	b.add()
	c.carry = c.carry[:0]
	c.tw.send(c.ctx, outItem{buf: b, read: now, frames: 1})
	c.stats.agentAudio(now)
}

// bargeIn handles speech_started: when agent audio is still playing, flush
// Twilio's buffer and tell the model how much of its answer was heard.
func (c *Call) bargeIn() {
	c.mu.Lock()
	truncs, clr := c.pb.interrupt()
	sid := c.streamSID
	c.mu.Unlock()
	if !clr {
		return
	}
	c.carry = c.carry[:0]
	c.tw.drain() // unsent agent audio is moot; only this goroutine queues to Twilio
	b := c.r.pool.get()
	b.b = appendTwilioClear(b.b, sid)
	b.add()
	c.tw.send(c.ctx, outItem{buf: b})
	for _, t := range truncs {
		c.model.sendBytes(c.ctx, appendTruncate(nil, t.itemID, t.audioEndMs))
	}
	c.r.m.BargeIns.Inc()
	c.log.Debug("caller interrupted the agent", "truncated", len(truncs))
}

func (c *Call) flushAgentText() {
	if c.agentText.Len() > 0 {
		c.transcript(RoleAgent, c.agentText.String())
	}
	c.agentText.Reset()
	c.agentItem = ""
}

// maxTranscriptLine caps one stored line (the model can be verbose).
const maxTranscriptLine = 8 << 10

// takeTranscript counts n bytes of transcript text received against the
// call's budget; false means the call is over it (and ending).
func (c *Call) takeTranscript(n int) bool {
	c.transcriptIn += n
	if c.transcriptIn > c.budget.TranscriptCallBytes {
		c.overBudget(limitTranscriptCall)
		return false
	}
	return true
}

// transcript stores a line and publishes it to live viewers.
func (c *Call) transcript(role, text string) {
	text = cleanText(text)
	if text == "" {
		return
	}
	if len(text) > maxTranscriptLine {
		text = strings.ToValidUTF8(text[:maxTranscriptLine], "")
	}
	c.transcriptOut += len(text) + transcriptRowOverhead
	if c.transcriptOut > c.budget.StoredTranscriptBytes {
		c.overBudget(limitStoredTranscript)
		return
	}
	now := time.Now().UTC()
	c.r.transcripts.add(TranscriptLine{CallSID: c.callSID, Role: role, Text: text, Time: now})
	c.publish(events.TranscriptLine, map[string]any{"role": role, "text": redact.Text(shorten(text))})
}
