package httpapi_test

import (
	"context"
	"net/http"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/app/apptest"
	"github.com/voiceagent/voiceagent/internal/events"
	"github.com/voiceagent/voiceagent/internal/fake"
)

// requireBrowserEnv makes a missing browser a failure instead of a skip
// (CI sets it).
const requireBrowserEnv = "VOICEAGENT_REQUIRE_BROWSER"

// chromium finds Debian's chromium (or another Chromium/Chrome binary).
func chromium(t *testing.T) string {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := osexec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv(requireBrowserEnv) != "" {
		t.Fatalf("no chromium binary, and %s is set: install it (apt-get install -y chromium)", requireBrowserEnv)
	}
	t.Skipf("browser test skipped: no chromium binary (set %s to make this a failure)", requireBrowserEnv)
	return ""
}

// console collects what the page writes to its console (CSP violations
// and script errors arrive here).
type console struct {
	mu   sync.Mutex
	msgs []chromedp.ConsoleMessage
}

func (c *console) problems() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, m := range c.msgs {
		if m.IsException() || m.Type == "error" || m.Source == "security" {
			out = append(out, m.String())
		}
	}
	return out
}

// screenshotsEnv names a directory the browser test also writes its
// README screenshots to (docs/screenshots: make screenshots).
const screenshotsEnv = "VOICEAGENT_SCREENSHOTS"

// TestDashboardInABrowser opens the dashboard in headless Chromium against
// the real server, enters the token, runs a simulated call through the
// fakes and waits for the agent's greeting to appear in the live
// transcript; the caller asks for a contact and the model looks her up;
// then the call ends and shows up under recent calls, and opening it shows
// its transcript, the tool with its outcome and duration, its timings and
// end reason. A call the policy rejected never shows as live, and shows
// under recent calls with its rule once its status callback ends it. The
// charts count the last hour's calls, and a security alert and a failing
// webhook reach the alert panel.
func TestDashboardInABrowser(t *testing.T) {
	bin := chromium(t)
	rig := newLiveRig(t, nil, nil)
	// The viewer holds a least-privilege token: calls:read is all the
	// dashboard needs (issue 12, finding 7).
	_, viewerToken, err := rig.srv.Tokens.Create(context.Background(), "test", "dashboard-viewer", []apitoken.Scope{apitoken.CallsRead}, 0)
	if err != nil {
		t.Fatal(err)
	}

	actx, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("user-data-dir", filepath.Join(t.TempDir(), "profile")),
		chromedp.Flag("window-size", "1200,900"),
	)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // start the browser before listening
		t.Fatalf("start chromium: %v", err)
	}
	var cons console
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			cons.mu.Lock()
			cons.msgs = append(cons.msgs, m)
			cons.mu.Unlock()
		}
	}()

	screenshot := func(name string) {
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
		if err != nil {
			t.Logf("screenshot %s: %v", name, err)
			return
		}
		dirs := []string{t.TempDir()}
		if d := os.Getenv(screenshotsEnv); d != "" && name != "failure" {
			dirs = append(dirs, d)
		}
		for _, dir := range dirs {
			path := filepath.Join(dir, name+".png")
			if err := os.WriteFile(path, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot saved: %s", path)
		}
	}
	fail := func(format string, args ...any) {
		t.Helper()
		screenshot("failure")
		t.Fatalf(format+"\nconsole problems: %v", append(args, cons.problems())...)
	}

	err = chromedp.Do(ctx,
		chromedp.Navigate(rig.srv.URL+"/dashboard"),
		chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), viewerToken),
		chromedp.Click(chromedp.CSS("#connect")),
		chromedp.WaitVisible(chromedp.CSS(`#status[data-state="live"]`)),
	)
	if err != nil {
		fail("log in: %v", err)
	}

	// Not the configured number: rejected before the live call starts.
	rejected := fake.DefaultCallParams("+15555550124", "+15005550009")
	rejected.Set("AccountSid", apptest.AccountSID)
	rig.webhook(t, "/voice/incoming", rejected)
	rejectedSID := rejected.Get("CallSid")

	addContact(t, rig.srv, "Alice Example", "+15555550101")
	c, sid := rig.call(t, "+15555550123")
	greeted(t, c)
	line := `[...document.querySelectorAll('article.call[data-call-sid="` + sid + `"] .transcript li[data-role="agent"] .text')]` +
		`.some(e => e.textContent.includes("example voice agent"))`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](line, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		fail("the greeting never appeared in the live transcript: %v", err)
	}
	caller, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`article.call[data-call-sid="`+sid+`"] .call-from`)))
	if err != nil || strings.Contains(caller, "5555550123") || !strings.HasSuffix(caller, "23") {
		fail("caller shown as %q (%v), want a masked number", caller, err)
	}
	screenshot("dashboard-live-call")
	// Its events came before the live call's, so they have been handled.
	if shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`!!document.querySelector('article.call[data-call-sid="`+rejectedSID+`"]')`)); err != nil || shown {
		fail("the rejected call shows under live calls (%v)", err)
	}
	rig.statusCallback(t, rejectedSID, "busy", 0, 1)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.querySelector('#recent-body tr[data-call-sid="`+rejectedSID+`"]')`, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		fail("the rejected call did not show under recent calls once ended: %v", err)
	}

	// The token lives in memory only.
	stored, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(localStorage) + JSON.stringify(sessionStorage) + document.cookie + location.href`))
	if err != nil || strings.Contains(stored, viewerToken) {
		fail("the token was stored or put in the URL: %q (%v)", stored, err)
	}

	// The caller asks for Alice: the model looks her up and answers.
	s, err := rig.rt.WaitSession(ctxFor(t), len(rig.rt.Sessions()))
	if err != nil {
		t.Fatal(err)
	}
	rig.rt.NextResponseCallsTool("lookup_contact", `{"name":"Alice Example"}`)
	s.ForceSpeechStarted()
	s.CallerTranscript("item_caller_1", "Please look up Alice.")
	s.ForceSpeechStopped()
	waitFor(t, "the lookup's result and the answer after it", func() bool {
		r := s.Responses()
		return len(s.FunctionOutputs()) == 1 && len(r) >= 3 && r[len(r)-1].Status == "completed"
	})

	// Hang up: the relay records the end and publishes call.ended; the
	// call leaves the live list and shows under recent calls.
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	recent := `!!document.querySelector('#recent-body tr[data-call-sid="` + sid + `"]') && !document.querySelector('article.call[data-call-sid="` + sid + `"]')`
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](recent, chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		fail("the ended call did not move to recent calls: %v", err)
	}
	rule, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#recent-body tr[data-call-sid="`+rejectedSID+`"] td:nth-child(6)`)))
	if err != nil || rule != "reject (wrong_number)" {
		fail("the rejected call's decision shows as %q (%v), want it with its rule", rule, err)
	}
	ended, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(`#recent-body tr[data-call-sid="`+rejectedSID+`"] td:nth-child(7)`)))
	if err != nil || ended != "refused" {
		fail("the rejected call's end reason shows as %q (%v), want refused", ended, err)
	}

	// The charts count both calls (refreshed after call.ended).
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Number(document.querySelector('#chart-calls').dataset.calls) >= 2 && document.querySelectorAll('#chart-calls rect.bar').length > 0`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		fail("the calls chart does not count the calls: %v", err)
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`Number(document.querySelector('#chart-latency').dataset.samples) >= 1`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		fail("the latency chart has no sample of the call: %v", err)
	}

	// A security alert (more than AUTH_FAILURE_LIMIT wrong tokens) and a
	// failing webhook's event reach the alert panel.
	for i := 0; i < 12; i++ {
		resp, _ := do(t, "GET", rig.srv.URL+"/api/whoami", "Bearer wrong-token-"+strings.Repeat("x", i), nil)
		if resp.StatusCode != http.StatusUnauthorized && resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("wrong token = %d", resp.StatusCode)
		}
	}
	rig.srv.Bus.Publish(events.Event{Type: "webhook.failed", Time: time.Now().UTC(),
		Data: map[string]any{"webhookId": "wh_0123456789abcdef", "event": "call.ended", "attempts": 3, "error": "HTTP 500"}})
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.querySelector('#alerts li[data-type="security.alert"]') && !!document.querySelector('#alerts li[data-type="webhook.failed"]')`,
		chromedp.WithPollingTimeout(30*time.Second))); err != nil {
		fail("the alert panel does not show the security alert and the failing webhook: %v", err)
	}
	screenshot("dashboard-calls")

	// Open the call: its details show what happened.
	err = chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#recent-body tr[data-call-sid="`+sid+`"] button.open`)),
		chromedp.WaitVisible(chromedp.CSS(`#detail[data-call-sid="`+sid+`"]`)),
	)
	if err != nil {
		fail("open the call's details: %v", err)
	}
	checks := map[string]string{
		"the greeting in the transcript": `[...document.querySelectorAll('#detail-transcript li[data-role="agent"] .text')].some(e => e.textContent.includes("example voice agent"))`,
		"the caller's line":              `[...document.querySelectorAll('#detail-transcript li[data-role="caller"] .text')].some(e => e.textContent === "Please look up Alice.")`,
		"the tool with its outcome":      `[...document.querySelectorAll('#detail-tools tr')].some(r => r.children[0].textContent === "lookup_contact" && r.children[1].textContent === "ok" && /^[0-9]+ ms$/.test(r.children[2].textContent))`,
		"the agent":                      `document.querySelector('#detail-facts dd[data-field="agentId"]').textContent === "default"`,
		"the timings":                    `[...document.querySelectorAll('#detail-facts dt')].some(dt => dt.textContent === "First audio" && / ms$/.test(dt.nextElementSibling.textContent))`,
		"the end reason":                 `document.querySelector('#detail-facts dd[data-field="endReason"]').textContent === "caller_hangup"`,
	}
	for what, js := range checks {
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(10*time.Second))); err != nil {
			fail("the call's details do not show %s: %v", what, err)
		}
	}
	screenshot("dashboard-call-details")
	if p := cons.problems(); len(p) > 0 {
		fail("the page reported problems (a CSP violation or a script error)")
	}
}
