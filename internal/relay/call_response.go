package relay

import "time"

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
//
// The bookkeeping is lineState's (call_state.go); these methods send what
// it decides. Any of the call's goroutines may call them.

// requestResponse asks the model to speak. goodbye marks the response
// after which the call is hung up.
func (c *Call) requestResponse(instructions string, goodbye bool) {
	if msg := c.state.wantResponse(instructions, goodbye); msg != nil {
		c.model.sendBytes(c.ctx, msg)
	}
}

// onResponseDone sends a queued response and hangs up after a goodbye
// that has played.
func (c *Call) onResponseDone(id string) {
	msg, hang := c.state.responseDone(id)
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
	mine, msg := c.state.createRefused(eventID, conflict)
	if msg != nil {
		c.model.sendBytes(c.ctx, msg)
	}
	return mine
}

// goodbye asks the agent for a last sentence and hangs up once it has
// played (or after goodbyeGrace). Without a model session it ends at once.
func (c *Call) goodbye(why endReason, instructions string) {
	first, ready := c.state.beginGoodbye(why, time.Now().Add(goodbyeGrace))
	if !first {
		return
	}
	if !ready {
		c.end(why)
		return
	}
	c.log.Info("ending the call after a goodbye", "reason", string(why))
	c.requestResponse(instructions, true)
}

func (c *Call) goodbyeReason() endReason {
	if why, _ := c.state.goodbye(); why != "" {
		return why
	}
	return endAgent
}
