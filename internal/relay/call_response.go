package relay

import "time"

// The model allows one active response per conversation. A response the
// relay wants (the greeting, after a tool result or key press, a goodbye)
// is sent at once when none is active, otherwise after response.done; a
// conversation_already_has_active_response error re-queues it the same way.

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
	rs.markSent(instructions, goodbye)
	c.mu.Unlock()
	c.model.sendBytes(c.ctx, responseCreate(instructions))
}

func (rs *responseState) markSent(instructions string, goodbye bool) {
	rs.awaitingCreated = true
	rs.lastInstr, rs.lastGoodbye = instructions, goodbye
	if goodbye {
		rs.goodbyeSent = true
	}
}

func (c *Call) onResponseCreated(id string) {
	c.mu.Lock()
	rs := &c.resp
	rs.active = true
	rs.awaitingCreated = false
	if rs.goodbyeSent && rs.goodbyeResp == "" {
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
	send, instr := rs.want, rs.wantInstr
	if send {
		rs.markSent(instr, rs.wantGoodbye)
		rs.want, rs.wantInstr, rs.wantGoodbye = false, "", false
	}
	hang := rs.hangupArmed && !c.pb.pending()
	c.mu.Unlock()
	if send {
		c.model.sendBytes(c.ctx, responseCreate(instr))
	}
	if hang {
		c.end(c.goodbyeReason())
	}
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
