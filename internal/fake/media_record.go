package fake

import "time"

// ReceivedBytes is the total outbound audio received, in mu-law bytes.
func (c *MediaClient) ReceivedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.receivedBytes
}

// Received returns a copy of all outbound audio received (nil with
// DiscardAudio).
func (c *MediaClient) Received() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]byte(nil), c.received...)
}

// MediaLog returns the receive time and size of every outbound media
// message (nil with DiscardAudio).
func (c *MediaClient) MediaLog() []MediaFrame {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]MediaFrame(nil), c.mediaLog...)
}

// ReceivedSince is how many audio bytes arrived strictly after t, e.g.
// after a clear (needs the media log, so not with DiscardAudio).
func (c *MediaClient) ReceivedSince(t time.Time) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, f := range c.mediaLog {
		if f.At.After(t) {
			n += f.Bytes
		}
	}
	return n
}

// PlayedBytes is how much received audio has been "played" so far.
func (c *MediaClient) PlayedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceRealLocked(time.Now())
	return c.played
}

// QueuedBytes is received audio not yet played (dropped by a clear).
func (c *MediaClient) QueuedBytes() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceRealLocked(time.Now())
	return c.queued
}

// PendingMarks is the number of marks received but not yet echoed.
func (c *MediaClient) PendingMarks() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceRealLocked(time.Now())
	n := 0
	for _, it := range c.queue[c.head:] {
		if it.isMrk {
			n++
		}
	}
	return n
}

// MarksReceived returns the names of the marks the relay sent, in order.
func (c *MediaClient) MarksReceived() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.marksReceived...)
}

// MarksEchoed returns the marks echoed back to the relay, in order.
func (c *MediaClient) MarksEchoed() []MarkEcho {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]MarkEcho(nil), c.echoes...)
}

// Clears returns when each clear message arrived.
func (c *MediaClient) Clears() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.clears...)
}

// Violations lists protocol errors seen in the relay's messages (wrong
// streamSid, mark without name, bad base64, unknown events, bad JSON).
func (c *MediaClient) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

// FramesSent is the number of inbound media frames sent.
func (c *MediaClient) FramesSent() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.framesSent
}

// TimestampMs is the media.timestamp of the last frame sent (-20 before
// the first): the relay's view of the call clock.
func (c *MediaClient) TimestampMs() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return 20 * (c.framesSent - 1)
}

// Closed reports whether the socket has ended.
func (c *MediaClient) Closed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// CloseCode is the close code the server sent, or 0 if none.
func (c *MediaClient) CloseCode() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closeCode
}
