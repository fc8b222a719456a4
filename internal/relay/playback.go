package relay

// playback follows agent audio from the moment it is sent to Twilio until
// Twilio echoes the mark placed after it, and decides what a barge-in
// truncates (docs/protocols.md, "Barge-in"):
//
//   - every audio delta is followed by a mark "m<seq>"; an echoed mark
//     confirms everything sent before it has been played;
//   - each assistant item is anchored at the Twilio media timestamp at
//     which its audio starts playing: the latest timestamp when it
//     arrives, or, when earlier audio is still queued at Twilio, the
//     moment that queue will have played out (for a model that streams in
//     real time the two are the same);
//   - on speech_started with marks pending, the item being heard is
//     truncated at clamp(latest - start, 0, bytes sent / 8) and items
//     queued behind it at what of them was heard (0); Twilio is told to
//     clear; late deltas of those items are dropped;
//   - with no marks pending the answer has finished playing, so nothing is
//     truncated or cleared.
//
// It is plain state, guarded by the call's mutex.
type playback struct {
	latestTs int64 // latest Twilio inbound media timestamp (ms)
	playEnd  int64 // timestamp at which everything sent will have played

	cur   playItem   // the item audio is currently being sent for
	older []playItem // earlier items with marks still pending

	marks    []uint64 // pending mark sequence numbers, oldest first
	nextMark uint64
	acked    uint64 // highest mark played (or given up on at a barge-in)
	echoed   uint64 // highest mark Twilio has sent back, played or cleared

	dropped  [8]string // recently truncated items: their late deltas are dropped
	dropNext int
}

// playItem is one assistant item's audio as sent to Twilio.
type playItem struct {
	id       string
	start    int64 // timestamp at which byte 0 of the item plays (estimated)
	bytes    int64 // mu-law bytes of model audio sent (padding excluded)
	lastMark uint64
}

// truncation is one conversation.item.truncate to send.
type truncation struct {
	itemID     string
	audioEndMs int64
}

// media records the timestamp of an inbound Twilio media frame.
func (p *playback) media(ts int64) {
	if ts > p.latestTs {
		p.latestTs = ts
	}
}

// isDropped reports whether deltas of item must be discarded.
func (p *playback) isDropped(item []byte) bool {
	for _, id := range p.dropped {
		if id != "" && id == string(item) {
			return true
		}
	}
	return false
}

// sent records that audio bytes of item (plus padding bytes of silence)
// were queued for Twilio and returns the sequence number of the mark to
// send after them.
func (p *playback) sent(item []byte, audio, padding int) uint64 {
	now := p.latestTs
	if p.cur.id != string(item) || p.cur.lastMark == 0 && p.cur.id == "" {
		if p.cur.lastMark > p.acked {
			p.older = append(p.older, p.cur)
		}
		p.cur = playItem{id: string(item), start: max(now, p.playEnd)}
	} else if gap := now - p.playEnd; gap > 0 && p.cur.bytes > 0 {
		// Twilio ran out of audio before this delta: the item's remaining
		// audio starts later than planned.
		p.cur.start += gap
	}
	p.cur.bytes += int64(audio)
	p.playEnd = max(p.playEnd, now) + int64(audio+padding)/8
	p.nextMark++
	p.cur.lastMark = p.nextMark
	p.marks = append(p.marks, p.nextMark)
	return p.nextMark
}

// ack handles a mark echoed by Twilio: it and everything before it has
// been played.
func (p *playback) ack(seq uint64) {
	if seq > p.nextMark || seq <= p.acked {
		return
	}
	p.acked = seq
	n := 0
	for n < len(p.marks) && p.marks[n] <= seq {
		n++
	}
	p.marks = p.marks[:copy(p.marks, p.marks[n:])]
	k := 0
	for k < len(p.older) && p.older[k].lastMark <= seq {
		k++
	}
	p.older = p.older[:copy(p.older, p.older[k:])]
	if len(p.marks) == 0 {
		// Everything sent has played: resynchronise the estimate.
		p.playEnd = p.latestTs
	}
}

// echo notes a mark message from Twilio and reports whether the relay is
// waiting for it: a mark it sent that has not come back yet, even one a
// barge-in already gave up on (a clear makes Twilio return them all).
// Twilio returns marks in order, so each is awaited once.
func (p *playback) echo(seq uint64) bool {
	if seq <= p.echoed || seq > p.nextMark {
		return false
	}
	p.echoed = seq
	return true
}

// pending reports whether audio sent to Twilio may still be playing.
func (p *playback) pending() bool { return len(p.marks) > 0 }

// interrupt handles speech_started. It returns the truncations to send and
// whether Twilio must be cleared; both are empty when nothing is playing.
func (p *playback) interrupt() (truncs []truncation, clear bool) {
	if len(p.marks) == 0 {
		return nil, false
	}
	cands := make([]playItem, 0, len(p.older)+1)
	cands = append(cands, p.older...)
	if p.cur.lastMark > p.acked {
		cands = append(cands, p.cur)
	}
	// The item being heard is the first one not fully played by the
	// estimate; earlier ones were heard to the end and stay as they are.
	first := len(cands) - 1
	for i, it := range cands {
		if p.heard(it) < it.bytes/8 {
			first = i
			break
		}
	}
	for i, it := range cands {
		if i >= first && it.id != "" {
			truncs = append(truncs, truncation{itemID: it.id, audioEndMs: p.heard(it)})
		}
		p.drop(it.id)
	}
	p.marks = p.marks[:0]
	p.older = p.older[:0]
	p.acked = p.nextMark
	p.cur = playItem{}
	p.playEnd = p.latestTs
	return truncs, true
}

// heard is how much of it the caller has heard, in ms.
func (p *playback) heard(it playItem) int64 {
	return min(max(p.latestTs-it.start, 0), it.bytes/8)
}

func (p *playback) drop(id string) {
	if id == "" || p.isDropped([]byte(id)) {
		return
	}
	p.dropped[p.dropNext] = id
	p.dropNext = (p.dropNext + 1) % len(p.dropped)
}
