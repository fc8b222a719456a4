package relay

import (
	"bytes"
	"context"
	"strconv"
	"sync"
	"time"
)

// lineState is what both halves of a call (and its watchdog and tool
// workers) read and change: the stream's identity, the playback of agent
// audio, the one-active-response bookkeeping and the model session. Its
// fields are reached only through its methods, each of which holds the
// lock for a few field updates and never across I/O; a method that
// decides a message must be sent returns it, and the caller sends it.
type lineState struct {
	mu         sync.Mutex
	started    bool
	streamSID  string
	streamSIDb []byte
	sess       *modelSession
	pb         playback
	resp       responseState
}

// responseState follows the one-active-response rule and the goodbye.
type responseState struct {
	active          bool
	awaitingCreated bool   // a response.create was sent; no response.created or refusal yet
	createSeq       int    // numbers the event_ids of response.create
	createID        string // event_id of the last response.create, until refused
	want            bool
	wantInstr       string
	wantGoodbye     bool
	lastInstr       string
	lastGoodbye     bool

	goodbyeReason   endReason
	goodbyeDeadline time.Time
	goodbyeResp     string // id of the response.created tagged as the goodbye
	hangupArmed     bool
}

// Stream identity (set once by the Twilio half's start message).

func (s *lineState) streamStarted() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.started
}

// startStream records the stream's sid; the Twilio half calls it once,
// after checking the start message.
func (s *lineState) startStream(sid string) {
	s.mu.Lock()
	s.started, s.streamSID, s.streamSIDb = true, sid, []byte(sid)
	s.mu.Unlock()
}

// mediaIn checks an inbound media frame's stream and records its
// timestamp for playback.
func (s *lineState) mediaIn(sid []byte, ts int64) (started, known bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	known = bytes.Equal(sid, s.streamSIDb)
	if s.started && known && ts >= 0 {
		s.pb.media(ts)
	}
	return s.started, known
}

// Playback of agent audio.

// echo notes a mark Twilio sent back (see playback.echo).
func (s *lineState) echo(seq uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.pb.echo(seq)
}

// markPlayed acks a mark and reports whether the armed goodbye has now
// played out (the call hangs up).
func (s *lineState) markPlayed(seq uint64) (hangUp bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pb.ack(seq)
	return s.resp.hangupArmed && !s.pb.pending()
}

// playTarget returns the stream to play audio of item to; ok is false
// when the stream has not started or a barge-in dropped the item.
func (s *lineState) playTarget(item []byte) (sid string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.streamSID, s.started && !s.pb.isDropped(item)
}

// queued records audio bytes of item (plus padding) queued for Twilio
// and returns the sequence number of the mark to send after them, the
// stream's sid, and the pending items and marks (for the budget).
func (s *lineState) queued(item []byte, audio, padding int) (seq uint64, sid string, items, marks int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	seq = s.pb.sent(item, audio, padding)
	return seq, s.streamSID, len(s.pb.older), len(s.pb.marks)
}

// interrupt is a barge-in (see playback.interrupt), with the stream's sid
// for the clear message.
func (s *lineState) interrupt() (truncs []truncation, clr bool, sid string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	truncs, clr = s.pb.interrupt()
	return truncs, clr, s.streamSID
}

// The model session.

// attach makes sess the call's model session unless ctx (the call's)
// has ended, in which case the caller closes it.
func (s *lineState) attach(ctx context.Context, sess *modelSession) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ctx.Err() != nil {
		return false
	}
	s.sess = sess
	return true
}

func (s *lineState) session() *modelSession {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sess
}

// Responses (call_response.go explains the rules).

// wantResponse returns the response.create to send now, or nil when one
// is active or starting (then it is sent after response.done).
func (s *lineState) wantResponse(instructions string, goodbye bool) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := &s.resp
	if rs.active || rs.awaitingCreated {
		rs.want = true
		if instructions != "" {
			rs.wantInstr = instructions
		}
		rs.wantGoodbye = rs.wantGoodbye || goodbye
		return nil
	}
	return responseCreate(rs.markSent(instructions, goodbye), instructions, goodbye)
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

// sendWanted takes the queued response, if any and none is active or
// starting; the caller sends it after unlocking.
func (rs *responseState) sendWanted() (msg []byte) {
	if !rs.want || rs.active || rs.awaitingCreated {
		return nil
	}
	instr, goodbye := rs.wantInstr, rs.wantGoodbye
	rs.want, rs.wantInstr, rs.wantGoodbye = false, "", false
	return responseCreate(rs.markSent(instr, goodbye), instr, goodbye)
}

func (s *lineState) responseCreated(id string, goodbye bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := &s.resp
	rs.active = true
	rs.awaitingCreated = false
	if goodbye && rs.goodbyeResp == "" {
		rs.goodbyeResp = id
	}
}

// responseDone returns the queued response.create to send, if any, and
// whether the goodbye has been said and played (the call hangs up).
func (s *lineState) responseDone(id string) (msg []byte, hangUp bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := &s.resp
	rs.active = false
	if id != "" && id == rs.goodbyeResp {
		rs.hangupArmed = true
	}
	msg = rs.sendWanted()
	return msg, rs.hangupArmed && !s.pb.pending()
}

// createRefused handles an error event; mine is false when it is not
// about the response.create in flight. msg is a response.create to send.
func (s *lineState) createRefused(eventID string, conflict bool) (mine bool, msg []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rs := &s.resp
	mine = eventID != "" && eventID == rs.createID
	if !mine && !(conflict && eventID == "" && rs.createID != "") {
		return false, nil
	}
	rs.awaitingCreated = false
	rs.createID = ""
	if conflict {
		// Another response is running: send this one after its
		// response.done (never at once, which could loop on errors).
		rs.want = true
		if rs.lastInstr != "" {
			rs.wantInstr = rs.lastInstr
		}
		rs.wantGoodbye = rs.wantGoodbye || rs.lastGoodbye
		return true, nil
	}
	// Refused for good: a response queued behind it goes now. A refused
	// goodbye ends the call at its deadline (watchdog).
	return true, rs.sendWanted()
}

// beginGoodbye records the reason and deadline of the call's goodbye;
// first is false when one was already under way, ready whether the agent
// can say it (the model session is attached and the stream started).
func (s *lineState) beginGoodbye(why endReason, deadline time.Time) (first, ready bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.resp.goodbyeReason != "" {
		return false, false
	}
	s.resp.goodbyeReason, s.resp.goodbyeDeadline = why, deadline
	return true, s.sess != nil && s.started
}

// goodbye returns the goodbye's reason ("" for none) and deadline.
func (s *lineState) goodbye() (endReason, time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.resp.goodbyeReason, s.resp.goodbyeDeadline
}
