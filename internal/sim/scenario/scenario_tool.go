package scenario

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/voiceagent/voiceagent/internal/fake"
	"github.com/voiceagent/voiceagent/internal/sim"
)

// AgentNumber is the number the http-tool scenario assigns to its agent.
const AgentNumber = "+15555550177"

// toolEndpoint is the business's endpoint of the http-tool scenario: it
// verifies the signature as the README tells businesses to and answers.
type toolEndpoint struct {
	mu                 sync.Mutex
	secret             string
	requests, verified int
}

const toolAnswer = `{"status":"shipped","eta":"tomorrow"}`

func (e *toolEndpoint) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests++
	if !verifyToolSignature(e.secret, r.Header.Get("X-Voiceagent-Signature"), body, time.Now()) {
		http.Error(w, `{"error":"bad signature"}`, http.StatusUnauthorized)
		return
	}
	e.verified++
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, toolAnswer)
}

// verifyToolSignature checks "t=<unix>,v1=<hex HMAC-SHA256(secret,
// "<t>.<body>")>" in constant time, t within 5 minutes.
func verifyToolSignature(secret, header string, body []byte, now time.Time) bool {
	var ts, v1 string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(part, "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			v1 = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	got, err := hex.DecodeString(v1)
	return err == nil && hmac.Equal(got, mac.Sum(nil))
}

// apiJSON sends one operator API request and decodes a JSON answer.
func apiJSON(ctx context.Context, t sim.Target, method, path, body string, want int, out any) error {
	code, resp, err := t.API(ctx, method, path, strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	if code != want {
		return fmt.Errorf("%s %s: HTTP %d: %.200s", method, path, code, resp)
	}
	if out != nil {
		return json.Unmarshal(resp, out)
	}
	return nil
}

// runHTTPTool: an agent with an HTTP tool answers its number; the model
// calls the tool; the local endpoint verifies the signature and answers;
// the model receives that answer.
func runHTTPTool(ctx context.Context, e *Env, r *Result) error {
	if e.REST == nil {
		return skip("needs the in-process server: the tool endpoint listens on this machine's loopback, which only the simulator's server is allowed to reach (TOOL_ALLOWED_NETWORKS=127.0.0.0/8)")
	}
	ep := &toolEndpoint{}
	biz := httptest.NewServer(ep)
	defer biz.Close()
	var tool struct{ Secret string }
	toolBody := `{"name":"sim_check_order","description":"Look up an order","url":"` + biz.URL + `/check-order","timeoutMs":3000,` +
		`"parameters":{"type":"object","properties":{"order":{"type":"string","pattern":"^[A-Z][0-9]+$"}},"required":["order"],"additionalProperties":false}}`
	if err := apiJSON(ctx, e.Target, http.MethodPost, "/api/tools", toolBody, http.StatusCreated, &tool); err != nil {
		return err
	}
	ep.mu.Lock()
	ep.secret = tool.Secret
	ep.mu.Unlock()
	var agent struct{ ID string }
	if err := apiJSON(ctx, e.Target, http.MethodPost, "/api/agents", `{"name":"Orders (simulator)","instructions":"Answer order questions.","voice":"alloy","model":"gpt-realtime","tools":["sim_check_order","end_call"]}`, http.StatusCreated, &agent); err != nil {
		return err
	}
	if err := apiJSON(ctx, e.Target, http.MethodPut, "/api/numbers/"+strings.Replace(AgentNumber, "+", "%2B", 1), `{"agentId":"`+agent.ID+`"}`, http.StatusCreated, nil); err != nil {
		return err
	}
	defer func() {
		c := context.WithoutCancel(ctx)
		_ = apiJSON(c, e.Target, http.MethodDelete, "/api/numbers/"+strings.Replace(AgentNumber, "+", "%2B", 1), "", http.StatusNoContent, nil)
		_ = apiJSON(c, e.Target, http.MethodDelete, "/api/agents/"+agent.ID, "", http.StatusNoContent, nil)
		_ = apiJSON(c, e.Target, http.MethodDelete, "/api/tools/sim_check_order", "", http.StatusNoContent, nil)
	}()

	before := len(e.Realtime.Sessions())
	a, err := e.Target.Place(ctx, "+15555550114", AgentNumber)
	if a != nil {
		r.CallSID, r.Answer = sim.MaskSID(a.CallSID()), a.Decision()
	}
	if err != nil {
		return err
	}
	if a.Decision() != "stream" {
		return fmt.Errorf("call to the agent's number answered with %q, want a stream", a.Decision())
	}
	c, err := e.Target.Connect(ctx, a, fake.MediaOptions{RealTime: true})
	if err != nil {
		return fmt.Errorf("media stream: %w", err)
	}
	lc := &liveCall{a: a, c: c, t: startTalking(c), start: time.Now()}
	defer lc.cleanup(ctx, e)
	if lc.sess, err = e.Realtime.WaitSession(ctx, before+1); err != nil {
		lc.t.hangUp()
		return fmt.Errorf("no model session opened: %w", err)
	}
	if _, err := lc.greeted(ctx); err != nil {
		return err
	}
	lc.sess.NextResponseCallsTool("sim_check_order", `{"order":"A123"}`)
	lc.t.say(25)
	if err := lc.sess.WaitFor(ctx, func() bool { return len(lc.sess.FunctionOutputs()) >= 1 }); err != nil {
		return fmt.Errorf("tool not answered: %w", err)
	}
	if out := lc.sess.FunctionOutputs()[0].Output; out != toolAnswer {
		return fmt.Errorf("the model received %.120q, want the endpoint's answer", out)
	}
	ep.mu.Lock()
	reqs, ok := ep.requests, ep.verified
	ep.mu.Unlock()
	if reqs != 1 || ok != 1 {
		return fmt.Errorf("endpoint saw %d requests, %d with a valid signature; want 1 and 1", reqs, ok)
	}
	if err := lc.hangUp(ctx, e); err != nil {
		return err
	}
	r.Detail = "signed request verified by the endpoint; its answer reached the model"
	return nil
}
