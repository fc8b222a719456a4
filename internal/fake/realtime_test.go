package fake

import (
	"bytes"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestRealtimeRequiresBearer(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{APIKey: "sk-test"})
	defer rt.Close()
	for _, auth := range []string{"", "Bearer wrong", "sk-test"} {
		hdr := http.Header{}
		if auth != "" {
			hdr.Set("Authorization", auth)
		}
		_, resp, err := websocket.DefaultDialer.Dial(rt.URL(), hdr)
		if err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("auth %q: err=%v resp=%v, want 401", auth, err, resp)
		}
	}
	if got := len(rt.Sessions()); got != 0 {
		t.Fatalf("sessions = %d, want 0", got)
	}
}

func TestRealtimeSessionUpdateValidation(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{APIKey: "sk-test"})
	defer rt.Close()
	c := dialRT(t, rt, "sk-test", nil)
	created := c.next("session.created")
	if got, want := str(created, "session", "model"), "gpt-realtime"; got != want {
		t.Fatalf("session.model = %q, want %q", got, want)
	}
	if str(created, "session", "id") == "" || str(created, "event_id") == "" {
		t.Fatalf("session.created lacks ids: %v", created)
	}

	bad := []struct {
		name, param string
		mutate      func(s map[string]any)
	}{
		{"missing type", "session.type", func(s map[string]any) { delete(s, "type") }},
		{"pcm input", "session.audio.input.format.type", func(s map[string]any) {
			s["audio"].(map[string]any)["input"].(map[string]any)["format"] = map[string]any{"type": "audio/pcm", "rate": 24000}
		}},
		{"no vad", "session.audio.input.turn_detection.type", func(s map[string]any) {
			s["audio"].(map[string]any)["input"].(map[string]any)["turn_detection"] = nil
		}},
		{"tool type", "session.tools[0].type", func(s map[string]any) {
			s["tools"] = []any{map[string]any{"name": "x"}}
		}},
	}
	for _, tc := range bad {
		u := gaUpdate()
		tc.mutate(u["session"].(map[string]any))
		u["event_id"] = "evt_" + tc.name
		c.send(u)
		e := c.next("error")
		if got := str(e, "error", "param"); got != tc.param {
			t.Fatalf("%s: error param = %q, want %q (%v)", tc.name, got, tc.param, e)
		}
		if got := str(e, "error", "event_id"); got != "evt_"+tc.name {
			t.Fatalf("%s: error.event_id = %q", tc.name, got)
		}
	}
	c.send(gaUpdate())
	upd := c.next("session.updated")
	if got := str(upd, "session", "audio", "output", "format", "type"); got != "audio/pcmu" {
		t.Fatalf("updated output format = %q", got)
	}
	if got := str(upd, "session", "audio", "output", "voice"); got != "alloy" {
		t.Fatalf("merge lost voice: %q", got)
	}
	s := rt.Sessions()[0]
	if got := len(s.SessionUpdates()); got != len(bad)+1 {
		t.Fatalf("SessionUpdates = %d, want %d", got, len(bad)+1)
	}
	if got := len(s.Errors()); got != len(bad) {
		t.Fatalf("Errors = %d, want %d", got, len(bad))
	}
	// Unknown client events and malformed JSON are errors, not disconnects.
	c.sendRaw(`{"type":"bogus.event"}`)
	if got := str(c.next("error"), "error", "param"); got != "type" {
		t.Fatalf("unknown event param = %q", got)
	}
	c.sendRaw(`{not json`)
	if got := str(c.next("error"), "error", "code"); got != "invalid_json" {
		t.Fatalf("malformed code = %q", got)
	}
}

func TestRealtimeVADResponse(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{APIKey: "sk-test", ChunkBytes: 800, Chunks: 4,
		Responses: []ScriptedResponse{{Transcript: "Hello there, caller!"}}, UserTranscripts: []string{"I need help"}})
	defer rt.Close()
	c := readyClient(t, rt)
	c.append(repeat(silenceFrame, 10)...)
	c.append(repeat(speechFrame, 5)...)
	started := c.next("input_audio_buffer.speech_started")
	if got, want := num(started, "audio_start_ms"), 200; got != want {
		t.Fatalf("audio_start_ms = %d, want %d", got, want)
	}
	if got := str(started, "item_id"); got != "item_user_1" {
		t.Fatalf("speech item_id = %q", got)
	}
	c.append(repeat(silenceFrame, 25)...)
	evs := c.until("response.done")
	want := []string{"input_audio_buffer.speech_stopped", "input_audio_buffer.committed", "conversation.item.added",
		"conversation.item.done", "conversation.item.input_audio_transcription.completed", "response.created"}
	if got := types(evs)[:len(want)]; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("events = %v, want prefix %v", types(evs), want)
	}
	if got := num(evs[0], "audio_end_ms"); got != 800 {
		t.Fatalf("audio_end_ms = %d, want 800", got)
	}
	if got := str(evs[4], "transcript"); got != "I need help" {
		t.Fatalf("user transcript = %q", got)
	}
	audio, _ := concatDeltas(evs, "response.output_audio.delta")
	if got := len(audio); got != 3200 {
		t.Fatalf("audio bytes = %d, want 3200", got)
	}
	if _, text := concatDeltas(evs, "response.output_audio_transcript.delta"); text != "Hello there, caller!" {
		t.Fatalf("transcript = %q", text)
	}
	done := evs[len(evs)-1]
	if got := str(done, "response", "status"); got != "completed" {
		t.Fatalf("status = %q", got)
	}
	deltas := ofType(evs, "response.output_audio.delta")
	if str(deltas[0], "item_id") != "item_asst_1" || str(deltas[0], "response_id") != str(done, "response", "id") {
		t.Fatalf("delta ids: %v", deltas[0])
	}
	s := rt.Sessions()[0]
	if got := len(s.Appended()); got != 40 {
		t.Fatalf("Appended = %d, want 40", got)
	}
	if got := s.InputMs(); got != 800 {
		t.Fatalf("InputMs = %d", got)
	}
	if got := s.GeneratedMs("item_asst_1"); got != 400 {
		t.Fatalf("GeneratedMs = %d", got)
	}
}

func TestRealtimeTruncate(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{})
	defer rt.Close()
	c := readyClient(t, rt)
	c.send(map[string]any{"type": "response.create"})
	c.next("response.done") // 5 x 800 bytes = 500 ms
	truncate := func(item string, ms int) map[string]any {
		c.send(map[string]any{"type": "conversation.item.truncate", "item_id": item, "content_index": 0, "audio_end_ms": ms})
		for {
			m := c.read()
			if m["type"] == "error" || m["type"] == "conversation.item.truncated" {
				return m
			}
		}
	}
	e := truncate("item_asst_1", 600)
	if got, want := str(e, "error", "message"), "Audio content of 500ms is already shorter than 600ms"; got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}
	if e := truncate("item_nope", 10); e["type"] != "error" {
		t.Fatalf("unknown item: %v", e)
	}
	ok := truncate("item_asst_1", 250)
	if ok["type"] != "conversation.item.truncated" || num(ok, "audio_end_ms") != 250 || str(ok, "item_id") != "item_asst_1" {
		t.Fatalf("truncated = %v", ok)
	}
	tr := rt.Sessions()[0].Truncates()
	if len(tr) != 1 || tr[0].AudioEndMs != 250 || tr[0].GeneratedMs != 500 {
		t.Fatalf("Truncates = %+v", tr)
	}
}

func TestRealtimeToolCall(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{})
	defer rt.Close()
	c := readyClient(t, rt)
	const args = `{"city":"Paris","unit":"°C"}`
	rt.NextResponseCallsTool("get_weather", args)
	c.send(map[string]any{"type": "response.create"})
	evs := c.until("response.done")
	added := ofType(evs, "response.output_item.added")[0]
	if str(added, "item", "type") != "function_call" || str(added, "item", "name") != "get_weather" {
		t.Fatalf("output_item.added = %v", added)
	}
	callID := str(added, "item", "call_id")
	if _, got := concatDeltas(evs, "response.function_call_arguments.delta"); got != args {
		t.Fatalf("argument deltas = %q", got)
	}
	fd := ofType(evs, "response.function_call_arguments.done")[0]
	if str(fd, "arguments") != args || str(fd, "call_id") != callID || str(fd, "name") != "get_weather" {
		t.Fatalf("arguments.done = %v", fd)
	}
	if item := ofType(evs, "response.output_item.done")[0]; str(item, "item", "status") != "completed" || str(item, "item", "arguments") != args {
		t.Fatalf("output_item.done = %v", item)
	}

	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "function_call_output", "call_id": "call_x", "output": "{}"}})
	if e := c.next("error"); str(e, "error", "param") != "item.call_id" {
		t.Fatalf("unknown call_id: %v", e)
	}
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "function_call_output", "call_id": callID, "output": `{"temp":21}`}})
	if ack := c.next("conversation.item.added"); str(ack, "item", "call_id") != callID {
		t.Fatalf("ack = %v", ack)
	}
	c.send(map[string]any{"type": "response.create"})
	evs = c.until("response.done")
	if _, text := concatDeltas(evs, "response.output_audio_transcript.delta"); !strings.Contains(text, `{"temp":21}`) {
		t.Fatalf("transcript %q does not embed the tool output", text)
	}
	outs := rt.Sessions()[0].FunctionOutputs()
	if len(outs) != 1 || outs[0].CallID != callID {
		t.Fatalf("FunctionOutputs = %+v", outs)
	}
}

func TestRealtimeOneActiveResponseAndCancel(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{ChunkInterval: 20 * time.Millisecond, Chunks: 50})
	defer rt.Close()
	c := readyClient(t, rt)
	c.send(map[string]any{"type": "response.create"})
	c.next("response.created")
	c.send(map[string]any{"type": "response.create", "event_id": "evt_2"})
	e := c.next("error")
	if str(e, "error", "code") != "conversation_already_has_active_response" || str(e, "error", "event_id") != "evt_2" {
		t.Fatalf("error = %v", e)
	}
	c.send(map[string]any{"type": "response.cancel"})
	done := c.next("response.done")
	if str(done, "response", "status") != "cancelled" || str(done, "response", "status_details", "reason") != "client_cancelled" {
		t.Fatalf("done = %v", done)
	}
	c.send(map[string]any{"type": "response.cancel"})
	if e := c.next("error"); str(e, "error", "code") != "response_cancel_not_active" {
		t.Fatalf("cancel without response: %v", e)
	}
	// Nothing from the cancelled response may follow.
	c.send(map[string]any{"type": "input_audio_buffer.clear"})
	for _, ev := range c.until("input_audio_buffer.cleared") {
		if strings.HasPrefix(str(ev, "type"), "response.") {
			t.Fatalf("event after cancel: %v", ev)
		}
	}
}

func TestRealtimeBargeInLateDeltas(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{ChunkInterval: 20 * time.Millisecond, Chunks: 100, LateDeltasAfterCancel: 2})
	defer rt.Close()
	c := readyClient(t, rt)
	c.send(map[string]any{"type": "response.create"})
	c.next("response.output_audio.delta")
	rt.Sessions()[0].ForceSpeechStarted()
	evs := c.until("response.done")
	if ss := ofType(evs, "input_audio_buffer.speech_started"); len(ss) != 1 {
		t.Fatalf("no speech_started before done: %v", types(evs))
	}
	done := evs[len(evs)-1]
	if str(done, "response", "status") != "cancelled" || str(done, "response", "status_details", "reason") != "turn_detected" {
		t.Fatalf("done = %v", done)
	}
	for range 2 {
		if m := c.read(); m["type"] != "response.output_audio.delta" {
			t.Fatalf("want late delta, got %v", m)
		}
	}
	rec := rt.Sessions()[0].Responses()[0]
	if rec.Status != "cancelled" || rec.AudioBytes >= 100*800 {
		t.Fatalf("response record = %+v", rec)
	}
}

func TestRealtimeBetaNames(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{Beta: true, Chunks: 2})
	defer rt.Close()
	c := dialRT(t, rt, "k", http.Header{"Openai-Beta": {"realtime=v1"}})
	c.next("session.created")
	c.send(map[string]any{"type": "session.update", "session": map[string]any{
		"input_audio_format": "g711_ulaw", "output_audio_format": "g711_ulaw", "turn_detection": map[string]any{"type": "server_vad"}}})
	c.next("session.updated")
	c.send(map[string]any{"type": "response.create"})
	got := strings.Join(types(c.until("response.done")), ",")
	for _, want := range []string{"conversation.item.created", "response.audio.delta", "response.audio_transcript.delta", "response.audio.done"} {
		if !strings.Contains(got, want) {
			t.Fatalf("beta events %s lack %s", got, want)
		}
	}
	if strings.Contains(got, "output_audio") {
		t.Fatalf("beta mode sent GA names: %s", got)
	}
}

func TestRealtimeFaults(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{RejectBetaHeader: true, AcceptDelay: 100 * time.Millisecond})
	defer rt.Close()
	start := time.Now()
	c := dialRT(t, rt, "k", http.Header{"Openai-Beta": {"realtime=v1"}})
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("AcceptDelay not applied: %v", d)
	}
	_, _, err := c.c.ReadMessage()
	if ce, ok := err.(*websocket.CloseError); !ok || ce.Code != 4000 || ce.Text != "beta_api_shape_disabled" {
		t.Fatalf("beta header: err = %v", err)
	}

	c = readyClient(t, rt)
	s := rt.Sessions()[1]
	s.SendEvent(map[string]any{"type": "some.future.event"})
	s.SendRaw([]byte("{garbage"))
	if m := c.read(); m["type"] != "some.future.event" {
		t.Fatalf("got %v", m)
	}
	if _, data, err := c.c.ReadMessage(); err != nil || !bytes.Equal(data, []byte("{garbage")) {
		t.Fatalf("raw frame = %q, %v", data, err)
	}
	s.Expire()
	if e := c.next("error"); str(e, "error", "code") != "session_expired" {
		t.Fatalf("expire: %v", e)
	}
	if _, _, err := c.c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("after expire: %v", err)
	}
	if err := rt.WaitFor(testCtx(t), func() bool { return rt.OpenSessions() == 0 }); err != nil {
		t.Fatalf("OpenSessions = %d: %v", rt.OpenSessions(), err)
	}

	c = readyClient(t, rt)
	rt.Sessions()[2].CloseAbruptly()
	if _, _, err := c.c.ReadMessage(); err == nil {
		t.Fatal("read after abrupt close succeeded")
	}
}

func TestRealtimeManySessions(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{DiscardAudio: true, Chunks: 3})
	defer rt.Close()
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			hdr := http.Header{"Authorization": {"Bearer k"}}
			c, _, err := websocket.DefaultDialer.Dial(rt.URL(), hdr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.WriteJSON(map[string]any{"type": "input_audio_buffer.append", "audio": "/////w=="})
			_ = c.WriteJSON(map[string]any{"type": "response.create"})
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				var m map[string]any
				if err := c.ReadJSON(&m); err != nil {
					errs <- err
					return
				}
				if m["type"] == "response.done" {
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := len(rt.Sessions()); got != n {
		t.Fatalf("sessions = %d", got)
	}
	if err := rt.WaitFor(testCtx(t), func() bool { return rt.OpenSessions() == 0 }); err != nil {
		t.Fatalf("OpenSessions = %d after all clients closed", rt.OpenSessions())
	}
	if got := rt.Sessions()[0].AppendCount(); got != 1 {
		t.Fatalf("AppendCount = %d", got)
	}
}

func TestRealtimeResponseParamsAndCreateFaults(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{})
	defer rt.Close()
	c := readyClient(t, rt)
	rt.FailNextResponseCreate("invalid_value", "Invalid value for 'response.instructions'.")
	c.send(map[string]any{"type": "response.create", "event_id": "evt_1"})
	if e := c.next("error"); str(e, "error", "code") != "invalid_value" || str(e, "error", "event_id") != "evt_1" {
		t.Fatalf("injected error = %v", e)
	}
	// Metadata is echoed in the response object; instructions are recorded.
	c.send(map[string]any{"type": "response.create", "event_id": "evt_2",
		"response": map[string]any{"instructions": "Say bye.", "metadata": map[string]string{"k": "v"}}})
	if cr := c.next("response.created"); str(cr, "response", "metadata", "k") != "v" {
		t.Fatalf("response.created = %v", cr)
	}
	if done := c.next("response.done"); str(done, "response", "metadata", "k") != "v" {
		t.Fatalf("response.done = %v", done)
	}
	r := rt.Sessions()[0].Responses()
	if len(r) != 1 || r[0].Instructions != "Say bye." || r[0].Metadata["k"] != "v" {
		t.Fatalf("responses = %+v", r)
	}
}

func TestRealtimeRespondToToolOutput(t *testing.T) {
	rt := NewRealtime(RealtimeOptions{RespondToToolOutput: true, ChunkInterval: 20 * time.Millisecond})
	defer rt.Close()
	c := readyClient(t, rt)
	rt.NextResponseCallsTool("get_weather", `{}`)
	c.send(map[string]any{"type": "response.create"})
	callID := str(c.next("response.output_item.done"), "item", "call_id")
	c.next("response.done")
	c.send(map[string]any{"type": "conversation.item.create", "item": map[string]any{"type": "function_call_output", "call_id": callID, "output": `{"temp":21}`}})
	c.send(map[string]any{"type": "response.create", "event_id": "evt_after_output"})
	evs := c.until("error")
	if cr := ofType(evs, "response.created"); len(cr) != 1 || dig(cr[0], "response", "metadata") != nil {
		t.Fatalf("server's own response not started: %v", types(evs))
	}
	if e := evs[len(evs)-1]; str(e, "error", "code") != "conversation_already_has_active_response" || str(e, "error", "event_id") != "evt_after_output" {
		t.Fatalf("error = %v", e)
	}
	if _, text := concatDeltas(c.until("response.done"), "response.output_audio_transcript.delta"); !strings.Contains(text, `{"temp":21}`) {
		t.Fatalf("server's answer %q does not embed the tool output", text)
	}
}
