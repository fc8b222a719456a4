package relay

import (
	"strconv"
	"time"
)

// The model allows one active response per conversation. A response the
// relay wants (the greeting, after a tool result or key press, a goodbye)
// is sent at once when none is active, otherwise after response.done.
//
// Every response.create carries an event_id, which the model echoes as
// error.event_id when it refuses that event: a
// conversation_already_has_active_response error re-queues the response
// for the next response.done; any other refusal ends the wait for
// response.created, so later responses are not blocked behind one that
// will never start. The goodbye also carries response.metadata
// {"voiceagent":"goodbye"}, echoed in its response.created, so it is never
// confused with a response the server started itself (server VAD).

// requestResponse asks the model to speak. goodbye marks the response
// after which the call is hung up.
func (c *Call) requestResponse(instructions string, goodbye bool) {
	c.mu.Lock()
	rs := &c.resp
	if rs.active || rs.awaitingCreated {
		rs.want = true
		if instructions != "" {
			rs.wantInstr = instructions
		}
		rs.wantGoodbye = rs.wantGoodbye || goodbye
		c.mu.Unlock()
		return
	}
	id := rs.markSent(instructions, goodbye)
	c.mu.Unlock()
	c.model.sendBytes(c.ctx, responseCreate(id, instructions, goodbye))
}

// markSent records a response.create about to be sent and returns its
// event_id.
func (rs *responseState) markSent(instructions string, goodbye bool) string {
	rs.awaitingCreated = true
	rs.lastInstr, rs.lastGoodbye = instructions, goodbye
	rs.createSeq++
	rs.createID = "relay_response_" + strconv.Itoa(rs.createSeq)
	return rs.createID
}

// sendWantedLocked takes the queued response, if any and none is active
// or starting; the caller sends it after unlocking.
func (rs *responseState) sendWantedLocked() (msg []byte) {
	if !rs.want || rs.active || rs.awaitingCreated {
		return nil
	}
	instr, goodbye := rs.wantInstr, rs.wantGoodbye
	rs.want, rs.wantInstr, rs.wantGoodbye = false, "", false
	return responseCreate(rs.markSent(instr, goodbye), instr, goodbye)
}

func (c *Call) onResponseCreated(id string, goodbye bool) {
	c.mu.Lock()
	rs := &c.resp
	rs.active = true
	rs.awaitingCreated = false
	if goodbye && rs.goodbyeResp == "" {
		rs.goodbyeResp = id
	}
	c.mu.Unlock()
}

func (c *Call) onResponseDone(id string) {
	c.mu.Lock()
	rs := &c.resp
	rs.active = false
	if id != "" && id == rs.goodbyeResp {
		rs.hangupArmed = true
	}
	msg := rs.sendWantedLocked()
	hang := rs.hangupArmed && !c.pb.pending()
	c.mu.Unlock()
	if msg != nil {
		c.model.sendBytes(c.ctx, msg)
	}
	if hang {
		c.end(c.goodbyeReason())
	}
}

// onCreateRefused handles an error event. It reports false when the error
// is not about the response.create in flight (eventID names another
// event); a conflict without an event_id is still taken as one.
func (c *Call) onCreateRefused(eventID string, conflict bool) bool {
	c.mu.Lock()
	rs := &c.resp
	mine := eventID != "" && eventID == rs.createID
	if !mine && !(conflict && eventID == "" && rs.createID != "") {
		c.mu.Unlock()
		return false
	}
	rs.awaitingCreated = false
	rs.createID = ""
	var msg []byte
	if conflict {
		// Another response is running: send this one after its
		// response.done (never at once, which could loop on errors).
		rs.want = true
		if rs.lastInstr != "" {
			rs.wantInstr = rs.lastInstr
		}
		rs.wantGoodbye = rs.wantGoodbye || rs.lastGoodbye
	} else {
		// Refused for good: a response queued behind it goes now. A
		// refused goodbye ends the call at its deadline (watchdog).
		msg = rs.sendWantedLocked()
	}
	c.mu.Unlock()
	if msg != nil {
		c.model.sendBytes(c.ctx, msg)
	}
	return true
}

// goodbye asks the agent for a last sentence and hangs up once it has
// played (or after goodbyeGrace). Without a model session it ends at once.
func (c *Call) goodbye(why endReason, instructions string) {
	c.mu.Lock()
	if c.resp.goodbyeReason != "" {
		c.mu.Unlock()
		return
	}
	c.resp.goodbyeReason = why
	c.resp.goodbyeDeadline = time.Now().Add(goodbyeGrace)
	ready := c.modelSess != nil && c.started
	c.mu.Unlock()
	if !ready {
		c.end(why)
		return
	}
	c.log.Info("ending the call after a goodbye", "reason", string(why))
	c.requestResponse(instructions, true)
}

func (c *Call) goodbyeReason() endReason {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.resp.goodbyeReason != "" {
		return c.resp.goodbyeReason
	}
	return endAgent
}
