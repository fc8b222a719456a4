package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/poll"
)

const (
	sidOne = "CA0000000000000000000000000000a001"
	sidTwo = "CA0000000000000000000000000000a002"
)

func logsURL(srv *apptest.Server) string { return "ws" + strings.TrimPrefix(srv.URL, "http") + "/logs" }

// dialLogs opens /logs with the bearer header and waits for "ready".
func dialLogs(t *testing.T, srv *apptest.Server) *websocket.Conn {
	t.Helper()
	conn, resp, err := websocket.DefaultDialer.Dial(logsURL(srv), http.Header{"Authorization": {"Bearer " + apptest.Bearer}})
	if err != nil {
		t.Fatalf("dial /logs: %v (%v)", err, status(resp))
	}
	t.Cleanup(func() { conn.Close() })
	if m := readMsg(t, conn); m.Type != "viewer.ready" {
		t.Fatalf("first message = %+v, want viewer.ready", m)
	}
	return conn
}

func status(resp *http.Response) string {
	if resp == nil {
		return "no response"
	}
	return resp.Status
}

// wireMsg is any message the server sends on /logs.
type wireMsg struct {
	Type        string         `json:"type"`
	CallSID     string         `json:"callSid"`
	Time        time.Time      `json:"time"`
	Data        map[string]any `json:"data"`
	ShowNumbers bool           `json:"showNumbers"`
}

func readMsg(t *testing.T, conn *websocket.Conn) wireMsg {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	kind, b, err := conn.ReadMessage()
	if err != nil {
		t.Fatalf("read /logs: %v", err)
	}
	if kind != websocket.TextMessage {
		t.Fatalf("message kind %d, want text", kind)
	}
	var m wireMsg
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("message %q is not JSON: %v", b, err)
	}
	return m
}

// expectClose reads until the server closes and returns the close code.
func expectClose(t *testing.T, conn *websocket.Conn) int {
	t.Helper()
	conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for {
		_, _, err := conn.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return ce.Code
		}
		if err != nil {
			t.Fatalf("socket ended without a close frame: %v", err)
		}
	}
}

func TestLogsRefusesMissingWrongOrQueryToken(t *testing.T) {
	logs := &apptest.LogBuffer{}
	srv := apptest.New(t, apptest.Options{Logs: logs})
	// Whatever was refused, no token reaches a log line (the one in the
	// query string included).
	t.Cleanup(func() { apptest.AssertNoLeaks(t, "server log", logs.String(), srv.Config) })
	cases := []struct {
		name   string
		query  string
		header http.Header
	}{
		{"no token", "", nil},
		{"wrong header token", "", http.Header{"Authorization": {"Bearer wrong-token-0000000000000000000000"}}},
		{"not a bearer header", "", http.Header{"Authorization": {"Basic " + apptest.Bearer}}},
		{"wrong subprotocol token", "", http.Header{"Sec-Websocket-Protocol": {"bearer, wrong-token-000000000000000000"}}},
		{"subprotocol without token", "", http.Header{"Sec-Websocket-Protocol": {"bearer"}}},
		{"token in query", "?token=" + apptest.Bearer, nil},
		{"access_token in query", "?access_token=" + apptest.Bearer, nil},
		// A right header does not excuse a token in the URL: it is
		// already in someone's logs.
		{"query token beside a right header", "?token=" + apptest.Bearer, http.Header{"Authorization": {"Bearer " + apptest.Bearer}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn, resp, err := websocket.DefaultDialer.Dial(logsURL(srv)+tc.query, tc.header)
			if err == nil {
				conn.Close()
				t.Fatal("upgrade accepted")
			}
			if resp == nil || resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("status = %v, want 401", status(resp))
			}
			body, _ := io.ReadAll(resp.Body)
			if e := decodeError(t, body); e.Error.Code != "unauthenticated" {
				t.Fatalf("error = %+v", e)
			}
			if strings.Contains(string(body), apptest.Bearer) {
				t.Fatal("the answer echoes the token")
			}
		})
	}
}

func TestLogsAcceptsHeaderOrBearerSubprotocol(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	conn := dialLogs(t, srv)
	if p := conn.Subprotocol(); p != "" {
		t.Fatalf("header auth answered subprotocol %q", p)
	}
	d := websocket.Dialer{Subprotocols: []string{"bearer", apptest.Bearer}}
	bc, resp, err := d.Dial(logsURL(srv), http.Header{"Origin": {srv.URL}})
	if err != nil {
		t.Fatalf("subprotocol dial: %v (%v)", err, status(resp))
	}
	defer bc.Close()
	if p := bc.Subprotocol(); p != "bearer" {
		t.Fatalf("subprotocol = %q, want bearer (never the token)", p)
	}
	if m := readMsg(t, bc); m.Type != "viewer.ready" || m.ShowNumbers {
		t.Fatalf("ready = %+v", m)
	}
	// A foreign page holding the token is still refused by origin.
	_, resp, err = d.Dial(logsURL(srv), http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v, want 403", err, status(resp))
	}
}

// Finding 12: under DNS rebinding the attacker's page has Origin and Host
// both set to its own name; matching them is no proof of anything.
func TestLogsOriginNotTrustedFromHost(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	d := websocket.Dialer{Subprotocols: []string{"bearer", apptest.Bearer}}
	u, _ := url.Parse(srv.URL)
	rebound := "http://rebind.example:" + u.Port()
	req := http.Header{"Origin": {rebound}, "Host": {"rebind.example:" + u.Port()}}
	_, resp, err := d.Dial(logsURL(srv), req)
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("rebound origin equal to Host: %v %v, want 403", err, status(resp))
	}
	// PUBLIC_URL's origin (the dashboard) is accepted.
	bc, resp, err := d.Dial(logsURL(srv), http.Header{"Origin": {strings.TrimRight(apptest.PublicURL, "/")}})
	if err != nil {
		t.Fatalf("PUBLIC_URL origin: %v (%v)", err, status(resp))
	}
	bc.Close()
}

func TestLogsFilterByCallSID(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	conn := dialLogs(t, srv)
	if err := conn.WriteJSON(map[string]string{"type": "filter", "callSid": sidTwo}); err != nil {
		t.Fatal(err)
	}
	if m := readMsg(t, conn); m.Type != "viewer.filter" || m.CallSID != sidTwo {
		t.Fatalf("filter answer = %+v", m)
	}
	srv.Bus.Publish(events.Event{Type: events.CallAccepted, CallSID: sidOne})
	srv.Bus.Publish(events.Event{Type: events.CallAccepted, CallSID: sidTwo})
	if m := readMsg(t, conn); m.CallSID != sidTwo {
		t.Fatalf("filtered viewer got %+v", m)
	}
	// An empty callSid clears the filter.
	if err := conn.WriteJSON(map[string]string{"type": "filter", "callSid": ""}); err != nil {
		t.Fatal(err)
	}
	if m := readMsg(t, conn); m.Type != "viewer.filter" || m.CallSID != "" {
		t.Fatalf("clear answer = %+v", m)
	}
	srv.Bus.Publish(events.Event{Type: events.CallEnded, CallSID: sidOne})
	if m := readMsg(t, conn); m.CallSID != sidOne || m.Type != events.CallEnded {
		t.Fatalf("unfiltered viewer got %+v", m)
	}
}

func TestLogsClosesOnAnythingButAFilter(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	cases := []struct {
		name string
		kind int
		msg  string
		code int // ClosePolicyViolation unless set
	}{
		{"plain text", websocket.TextMessage, "hello", 0},
		{"other type", websocket.TextMessage, `{"type":"subscribe","callSid":""}`, 0},
		{"filter without callSid", websocket.TextMessage, `{"type":"filter"}`, 0},
		{"not a call SID", websocket.TextMessage, `{"type":"filter","callSid":"+14155550123"}`, 0},
		{"unknown field", websocket.TextMessage, `{"type":"filter","callSid":"","token":"x"}`, 0},
		{"trailing data", websocket.TextMessage, `{"type":"filter","callSid":""}{}`, 0},
		{"binary", websocket.BinaryMessage, `{"type":"filter","callSid":""}`, 0},
		{"oversized", websocket.TextMessage, `{"type":"filter","callSid":"` + strings.Repeat("A", 1000) + `"}`, websocket.CloseMessageTooBig},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			conn := dialLogs(t, srv)
			if err := conn.WriteMessage(tc.kind, []byte(tc.msg)); err != nil {
				t.Fatal(err)
			}
			want := websocket.ClosePolicyViolation
			if tc.code != 0 {
				want = tc.code
			}
			if code := expectClose(t, conn); code != want {
				t.Fatalf("close code = %d, want %d", code, want)
			}
		})
	}
}

func TestLogsClosesAFloodingViewer(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	conn := dialLogs(t, srv)
	for i := 0; i < 20; i++ {
		if err := conn.WriteJSON(map[string]string{"type": "filter", "callSid": sidOne}); err != nil {
			break // the server may already have closed
		}
	}
	if code := expectClose(t, conn); code != websocket.ClosePolicyViolation {
		t.Fatalf("close code = %d, want %d", code, websocket.ClosePolicyViolation)
	}
}

func TestLogsViewerLimit(t *testing.T) {
	srv := apptest.New(t, apptest.Options{Env: map[string]string{"MAX_LOG_VIEWERS": "1"}})
	first := dialLogs(t, srv)
	_, resp, err := websocket.DefaultDialer.Dial(logsURL(srv), http.Header{"Authorization": {"Bearer " + apptest.Bearer}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("second viewer: %v %v, want 503", err, status(resp))
	}
	first.Close()
	poll.Wait(t, "a viewer slot to free up", func() bool {
		c, _, err := websocket.DefaultDialer.Dial(logsURL(srv), http.Header{"Authorization": {"Bearer " + apptest.Bearer}})
		if err != nil {
			return false
		}
		c.Close()
		return true
	})
}

func TestLogsMasksNumbersUnlessAllowed(t *testing.T) {
	const caller, streamSID = "+14155550123", "MZ00000000000000000000000000001234"
	publish := func(srv *apptest.Server) {
		srv.Bus.Publish(events.Event{Type: events.CallReceived, CallSID: sidOne, Data: map[string]any{"from": caller, "decision": "accept"}})
		srv.Bus.Publish(events.Event{Type: events.StreamStarted, CallSID: sidOne, Data: map[string]any{"streamSid": streamSID}})
		srv.Bus.Publish(events.Event{Type: events.TranscriptLine, CallSID: sidOne, Data: map[string]any{"role": "caller", "text": "call me back on 4155550199 please"}})
	}
	srv := apptest.New(t, apptest.Options{})
	conn := dialLogs(t, srv)
	publish(srv)
	received, started, line := readMsg(t, conn), readMsg(t, conn), readMsg(t, conn)
	if from := received.Data["from"]; from == caller || !strings.HasSuffix(from.(string), "23") {
		t.Fatalf("from = %v, want masked", from)
	}
	if received.CallSID != sidOne || started.Data["streamSid"] != streamSID {
		t.Fatalf("identifiers must stay intact: %+v %+v", received, started)
	}
	if text := line.Data["text"].(string); strings.Contains(text, "4155550199") || !strings.HasPrefix(text, "call me back on ") {
		t.Fatalf("transcript = %q, want the number masked", text)
	}

	open := apptest.New(t, apptest.Options{Env: map[string]string{"LOGS_SHOW_NUMBERS": "true"}})
	oc := dialLogs(t, open)
	publish(open)
	if m := readMsg(t, oc); m.Data["from"] != caller {
		t.Fatalf("LOGS_SHOW_NUMBERS=true: from = %v", m.Data["from"])
	}
}

// TestLogsSharesTheBearerLockout: failures on /logs count toward the
// per-IP lockout like /api ones; a locked-out address gets 429 for wrong
// tokens and is still served with the right one (issue 12, finding 3).
func TestLogsSharesTheBearerLockout(t *testing.T) {
	srv := apptest.New(t, apptest.Options{Env: map[string]string{"AUTH_FAILURE_LIMIT": "3"}})
	bad := websocket.Dialer{Subprotocols: []string{"bearer", "wrong-token-0000000000000000000000"}}
	for i := 0; i < 4; i++ {
		if _, resp, err := bad.Dial(logsURL(srv), nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("bad attempt %d: %v %v, want 401", i+1, err, status(resp))
		}
	}
	if _, resp, err := bad.Dial(logsURL(srv), nil); err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("wrong token after the lockout: %v %v, want 429", err, status(resp))
	}
	conn, resp, err := websocket.DefaultDialer.Dial(logsURL(srv), http.Header{"Authorization": {"Bearer " + apptest.Bearer}})
	if err != nil {
		t.Fatalf("right token after the lockout: %v %v, want served", err, status(resp))
	}
	conn.Close()
	if got := counterValue(t, srv.Metrics.AuthFailures.WithLabelValues("logs")); got != 4 {
		t.Fatalf("logs auth failures = %v, want 4", got)
	}
}

// TestLogsNeedsCallsRead: a scoped token without calls:read is refused
// 403 before the upgrade; one with it is served.
func TestLogsNeedsCallsRead(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	_, contactsOnly, err := srv.Tokens.Create(context.Background(), "test", "contacts", []apitoken.Scope{apitoken.ContactsRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, viewer, err := srv.Tokens.Create(context.Background(), "test", "viewer", []apitoken.Scope{apitoken.CallsRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	d := websocket.Dialer{Subprotocols: []string{"bearer", contactsOnly}}
	if _, resp, err := d.Dial(logsURL(srv), nil); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("contacts:read on /logs: %v %v, want 403", err, status(resp))
	}
	d = websocket.Dialer{Subprotocols: []string{"bearer", viewer}}
	conn, resp, err := d.Dial(logsURL(srv), nil)
	if err != nil {
		t.Fatalf("calls:read on /logs: %v %v", err, status(resp))
	}
	conn.Close()
}

// TestLogsViewersLeaveAtShutdown: closing the bus (App.Close) tells every
// viewer the server is going away.
func TestLogsViewersLeaveAtShutdown(t *testing.T) {
	srv := apptest.New(t, apptest.Options{})
	conn := dialLogs(t, srv)
	srv.Bus.Close()
	if code := expectClose(t, conn); code != websocket.CloseGoingAway {
		t.Fatalf("close code = %d, want %d", code, websocket.CloseGoingAway)
	}
}
