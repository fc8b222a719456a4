package voice_test

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/voice"
)

type node struct {
	XMLName xml.Name
	Attrs   []xml.Attr `xml:",any,attr"`
	Text    string     `xml:",chardata"`
	Nodes   []node     `xml:",any"`
}

func (n node) shape() string {
	var parts []string
	for _, c := range n.Nodes {
		s := c.XMLName.Local
		if len(c.Nodes) > 0 {
			s += "(" + c.shape() + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

func parse(t testing.TB, doc string) node {
	t.Helper()
	var n node
	if err := xml.Unmarshal([]byte(doc), &n); err != nil {
		t.Fatalf("TwiML %q: %v", doc, err)
	}
	if n.XMLName.Local != "Response" {
		t.Fatalf("root %q", n.XMLName.Local)
	}
	return n
}

type nopAudit struct{}

func (nopAudit) Record(audit.Event) {}

type names struct {
	mu    sync.Mutex
	calls int
	err   error
	delay time.Duration
}

func (n *names) LookupCallerName(ctx context.Context, number string) (string, string, error) {
	n.mu.Lock()
	n.calls++
	err, delay := n.err, n.delay
	n.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return "", "", ctx.Err()
		}
	}
	if err != nil {
		return "", "", err
	}
	return "EXAMPLE CO", "BUSINESS", nil
}

type prewarms struct {
	mu   sync.Mutex
	sids []string
}

func (p *prewarms) Prewarm(sid string) { p.mu.Lock(); p.sids = append(p.sids, sid); p.mu.Unlock() }

var links = voice.Links{Accept: "https://voice.example.test/voice/accept", StreamBase: "wss://voice.example.test/media-stream/"}

func newService(t testing.TB, d voice.Deps, s voice.Settings) *voice.Service {
	db := storetest.SQLite(t)
	d.Calls, d.Tokens, d.Lists, d.Audit = db.Calls(), db.Calls(), db.Callers(), nopAudit{}
	s.Links = links
	if s.MaxConcurrent == 0 {
		s.MaxConcurrent = 50
	}
	return voice.New(d, s)
}

func sid(n int) string { return fmt.Sprintf("CA%032x", n) }

func TestCallerNameLookupCachedAndBounded(t *testing.T) {
	n := &names{}
	svc := newService(t, voice.Deps{Names: n}, voice.Settings{CallerNamePolicy: voice.NamePolicyBusinessOnly})
	ctx := context.Background()
	for i := range 3 {
		a, err := svc.Incoming(ctx, voice.Inbound{CallSID: sid(i), From: "+15555550100"}, nil, false)
		if err != nil || a.Decision != voice.Accept {
			t.Fatalf("call %d = %v, %v", i, a.Decision, err)
		}
	}
	if n.calls != 1 {
		t.Fatalf("lookups = %d, want 1 (cached)", n.calls)
	}
	// A slow lookup is cut short and the call goes through.
	slow := &names{delay: time.Minute}
	svc = newService(t, voice.Deps{Names: slow}, voice.Settings{CallerNamePolicy: voice.NamePolicyBusinessOnly})
	start := time.Now()
	a, err := svc.Incoming(ctx, voice.Inbound{CallSID: sid(9), From: "+15555550100"}, nil, false)
	if err != nil || a.Decision != voice.Accept {
		t.Fatalf("slow lookup = %v, %v", a.Decision, err)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatal("the lookup was not bounded")
	}
	failing := &names{err: errors.New("boom")}
	svc = newService(t, voice.Deps{Names: failing}, voice.Settings{CallerNamePolicy: voice.NamePolicyBlockUnknown})
	for i := range 2 {
		if a, err := svc.Incoming(ctx, voice.Inbound{CallSID: sid(20 + i), From: "+15555550100"}, nil, false); err != nil || a.Decision != voice.Accept {
			t.Fatalf("failing lookup = %v, %v", a.Decision, err)
		}
	}
	if failing.calls != 2 {
		t.Fatalf("failures cached: %d lookups", failing.calls)
	}
}

func TestConnectPrewarmsAndRedeems(t *testing.T) {
	pw := &prewarms{}
	svc := newService(t, voice.Deps{Prewarm: pw}, voice.Settings{})
	ctx := context.Background()
	in := voice.Inbound{CallSID: sid(1), From: "+15555550100"}
	if _, err := svc.Incoming(ctx, in, nil, false); err != nil {
		t.Fatal(err)
	}
	a, err := svc.Connect(ctx, in, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	n := parse(t, a.TwiML)
	url := n.Nodes[0].Nodes[0].Attrs
	var streamURL string
	for _, at := range url {
		if at.Name.Local == "url" {
			streamURL = at.Value
		}
	}
	token := strings.TrimPrefix(streamURL, links.StreamBase)
	if got, err := svc.RedeemStreamToken(ctx, token); err != nil || got != in.CallSID {
		t.Fatalf("redeem = %q, %v", got, err)
	}
	for _, bad := range []string{"", "short", token, strings.Repeat("x", 200), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"} {
		if _, err := svc.RedeemStreamToken(ctx, bad); !apperr.Is(err, apperr.Forbidden) {
			t.Fatalf("redeem %q: %v", bad, err)
		}
	}
	if len(pw.sids) != 1 || pw.sids[0] != in.CallSID {
		t.Fatalf("prewarmed = %v", pw.sids)
	}
	// Without an https PUBLIC_URL there is no stream to offer.
	db := storetest.SQLite(t)
	noTLS := voice.New(voice.Deps{Calls: db.Calls(), Tokens: db.Calls(), Lists: db.Callers(), Audit: nopAudit{}},
		voice.Settings{MaxConcurrent: 5, Links: voice.Links{Accept: "/voice/accept"}})
	if _, err := noTLS.Connect(ctx, in, nil, false); apperr.CodeOf(err) != apperr.Internal {
		t.Fatalf("no https: %v", err)
	}
	if _, err := voice.StreamTwiML("ws://voice.example.test/media-stream/", "tok", in.CallSID, ""); err == nil {
		t.Fatal("ws:// stream URL accepted")
	}
}

func TestDecisionTwiMLShapes(t *testing.T) {
	for d, want := range map[voice.Decision]string{
		voice.Accept: "Gather,Redirect", voice.Reject: "Reject", voice.Busy: "Reject", voice.Hangup: "Say,Hangup",
	} {
		doc, err := voice.DecisionTwiML(d, "", links)
		if err != nil {
			t.Fatal(err)
		}
		if got := parse(t, doc).shape(); got != want {
			t.Fatalf("%s shape = %q, want %q", d, got, want)
		}
	}
	if _, err := voice.DecisionTwiML("maybe", "", links); err == nil {
		t.Fatal("unknown decision answered")
	}
	if parse(t, voice.EmptyTwiML()).shape() != "" {
		t.Fatal("empty TwiML has verbs")
	}
}

func TestBlockedForTheAgentsTools(t *testing.T) {
	svc := newService(t, voice.Deps{}, voice.Settings{})
	ctx := context.Background()
	if err := svc.SyncLists(ctx, []string{"+15555550100"}, nil); err != nil {
		t.Fatal(err)
	}
	for number, want := range map[string]bool{"+15555550100": true, "+1 (555) 555-0100": true, "+15555550101": false, "junk": false} {
		if got, err := svc.Blocked(ctx, number); err != nil || got != want {
			t.Fatalf("Blocked(%q) = %v, %v", number, got, err)
		}
	}
	if _, _, err := svc.AddCaller(ctx, "api:primary", "nobody", "+15555550100"); !apperr.Is(err, apperr.NotFound) {
		t.Fatalf("unknown list: %v", err)
	}
}
