package fake

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/gorilla/websocket"
)

// MediaFrame is one outbound media message the client received.
type MediaFrame struct {
	At    time.Time
	Bytes int
}

// MarkEcho is a mark the client echoed back to the relay.
type MarkEcho struct {
	Name string
	At   time.Time
	// Cleared is true when the echo was caused by a clear, not playback.
	Cleared bool
}

// playItem is a queued run of audio bytes or a mark.
type playItem struct {
	bytes int
	mark  string
	isMrk bool
}

// mediaState is the playback queue and the recording, guarded by mu.
type mediaState struct {
	queue      []playItem
	head       int
	queued     int
	played     int
	lastT      time.Time
	carryNs    int64
	markTimer  *time.Timer
	framesSent int

	received      []byte
	receivedBytes int
	mediaLog      []MediaFrame
	marksReceived []string
	echoes        []MarkEcho
	clears        []time.Time
	violations    []string
	closeCode     int
	closed        bool
}

type outboundMsg struct {
	Event     string `json:"event"`
	StreamSid string `json:"streamSid"`
	Media     *struct {
		Payload string `json:"payload"`
	} `json:"media"`
	Mark *struct {
		Name *string `json:"name"`
	} `json:"mark"`
}

func (c *MediaClient) initPlayback() {
	if c.opts.RealTime {
		c.markTimer = time.AfterFunc(time.Hour, c.onMarkDue)
		c.markTimer.Stop()
	}
}

func (c *MediaClient) readLoop() {
	defer func() {
		c.mu.Lock()
		c.closed = true
		if c.markTimer != nil {
			c.markTimer.Stop()
		}
		c.mu.Unlock()
		close(c.done)
		c.changed.notify()
	}()
	var buf bytes.Buffer
	var payload []byte
	for {
		_, rd, err := c.conn.NextReader()
		if err != nil {
			if ce, ok := err.(*websocket.CloseError); ok {
				c.mu.Lock()
				c.closeCode = ce.Code
				c.mu.Unlock()
			}
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(rd); err != nil {
			return
		}
		at := time.Now()
		var m outboundMsg
		if err := json.Unmarshal(buf.Bytes(), &m); err != nil {
			c.violation("invalid JSON: %.80q", buf.Bytes())
			continue
		}
		if m.StreamSid != c.streamSid {
			c.violation("%s: streamSid %q, want %q", m.Event, m.StreamSid, c.streamSid)
			continue
		}
		switch m.Event {
		case "media":
			if m.Media == nil {
				c.violation("media without media object")
				continue
			}
			n := base64.StdEncoding.DecodedLen(len(m.Media.Payload))
			if cap(payload) < n {
				payload = make([]byte, n)
			}
			n, err := base64.StdEncoding.Decode(payload[:n], []byte(m.Media.Payload))
			if err != nil || n == 0 {
				c.violation("media: bad payload: %v", err)
				continue
			}
			if cb := c.opts.OnMedia; cb != nil {
				cb(payload[:n], at)
			}
			c.onAudio(payload[:n], at)
		case "mark":
			if m.Mark == nil || m.Mark.Name == nil || *m.Mark.Name == "" {
				c.violation("mark without mark.name")
				continue
			}
			c.onMark(*m.Mark.Name, at)
		case "clear":
			c.onClear(at)
		default:
			c.violation("unknown event %q", m.Event)
		}
		c.changed.notify()
	}
}

func (c *MediaClient) violation(format string, args ...any) {
	c.mu.Lock()
	c.violations = append(c.violations, fmt.Sprintf(format, args...))
	c.mu.Unlock()
	c.changed.notify()
}

func (c *MediaClient) onAudio(audio []byte, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceRealLocked(at)
	c.receivedBytes += len(audio)
	if !c.opts.DiscardAudio {
		c.received = append(c.received, audio...)
		c.mediaLog = append(c.mediaLog, MediaFrame{At: at, Bytes: len(audio)})
	}
	if n := len(c.queue); n > c.head && !c.queue[n-1].isMrk {
		c.queue[n-1].bytes += len(audio)
	} else {
		c.queue = append(c.queue, playItem{bytes: len(audio)})
	}
	c.queued += len(audio)
	c.scheduleLocked()
}

func (c *MediaClient) onMark(name string, at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceRealLocked(at)
	c.marksReceived = append(c.marksReceived, name)
	c.queue = append(c.queue, playItem{mark: name, isMrk: true})
	// A mark behind no audio is echoed at once.
	c.advanceLocked(0)
	c.scheduleLocked()
}

// onClear drops queued audio and echoes every pending mark, as Twilio does.
func (c *MediaClient) onClear(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.advanceRealLocked(at)
	c.clears = append(c.clears, at)
	for ; c.head < len(c.queue); c.head++ {
		if it := c.queue[c.head]; it.isMrk {
			c.echoLocked(it.mark, true)
		}
	}
	c.queue, c.head, c.queued, c.carryNs = c.queue[:0], 0, 0, 0
	c.scheduleLocked()
}

// advanceLocked plays up to budget bytes, echoing each mark reached.
func (c *MediaClient) advanceLocked(budget int) {
	for c.head < len(c.queue) {
		it := &c.queue[c.head]
		if it.isMrk {
			c.echoLocked(it.mark, false)
			c.head++
			continue
		}
		if budget == 0 {
			break
		}
		take := min(it.bytes, budget)
		it.bytes -= take
		budget -= take
		c.played += take
		c.queued -= take
		if it.bytes == 0 {
			c.head++
		}
	}
	if c.head == len(c.queue) {
		c.queue, c.head = c.queue[:0], 0
	} else if c.head > 64 && c.head > len(c.queue)/2 {
		c.queue = append(c.queue[:0], c.queue[c.head:]...)
		c.head = 0
	}
}

// advanceRealLocked plays what the wall clock allows since the last call
// (8 bytes per ms); idle time earns no credit.
func (c *MediaClient) advanceRealLocked(now time.Time) {
	if !c.opts.RealTime {
		return
	}
	if c.queued == 0 {
		c.lastT, c.carryNs = now, 0
		c.advanceLocked(0)
		return
	}
	const nsPerByte = int64(time.Millisecond) / BytesPerMs
	total := c.carryNs + now.Sub(c.lastT).Nanoseconds()
	c.lastT = now
	if total < 0 {
		total = 0
	}
	c.carryNs = total % nsPerByte
	c.advanceLocked(int(total / nsPerByte))
}

// scheduleLocked arms the timer for the next mark in RealTime mode.
func (c *MediaClient) scheduleLocked() {
	if c.markTimer == nil {
		return
	}
	before := 0
	for i := c.head; i < len(c.queue); i++ {
		if c.queue[i].isMrk {
			const nsPerByte = int64(time.Millisecond) / BytesPerMs
			c.markTimer.Reset(time.Duration(int64(before)*nsPerByte-c.carryNs) + time.Millisecond)
			return
		}
		before += c.queue[i].bytes
	}
	c.markTimer.Stop()
}

func (c *MediaClient) onMarkDue() {
	c.mu.Lock()
	c.advanceRealLocked(time.Now())
	c.scheduleLocked()
	c.mu.Unlock()
	c.changed.notify()
}

func (c *MediaClient) echoLocked(name string, cleared bool) {
	c.echoes = append(c.echoes, MarkEcho{Name: name, At: time.Now(), Cleared: cleared})
	if c.closed {
		return
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.seq++
	b := append(c.wbuf[:0], `{"event":"mark","sequenceNumber":"`...)
	b = strconv.AppendInt(b, int64(c.seq), 10)
	b = append(b, `","streamSid":"`...)
	b = append(b, c.streamSid...)
	b = append(b, `","mark":{"name":`...)
	name2, _ := json.Marshal(name)
	b = append(b, name2...)
	b = append(b, `}}`...)
	c.wbuf = b
	_ = c.writeLocked(b)
}
