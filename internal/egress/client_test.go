package egress_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/voiceagent/voiceagent/internal/egress"
)

var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// verify is an independent signature check written from the spec in the
// README (not calling egress.Sign): header "t=<unix>,v1=<hex>", HMAC-SHA256
// over "<t>.<raw body>", compared in constant time, t within 5 minutes.
func verify(t *testing.T, secret []byte, header string, body []byte, now time.Time) bool {
	t.Helper()
	var ts, sig string
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return false
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			sig = v
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || now.Sub(time.Unix(sec, 0)).Abs() > 5*time.Minute {
		return false
	}
	want := hmac.New(sha256.New, secret)
	want.Write([]byte(ts + "." + string(body)))
	got, err := hex.DecodeString(sig)
	return err == nil && hmac.Equal(got, want.Sum(nil))
}

func TestSignedPostVerifiesIndependently(t *testing.T) {
	secret := []byte("test-secret-0123456789abcdef0123")
	body := []byte(`{"tool":"check_order","arguments":{"order":"A1"}}`)
	type seen struct {
		header, delivery, ua, ctype string
		body                        []byte
	}
	got := make(chan seen, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.Header.Get("X-Voiceagent-Signature"), r.Header.Get("X-Voiceagent-Delivery"), r.Header.Get("User-Agent"), r.Header.Get("Content-Type"), b}
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"shipped"}`)
	}))
	defer srv.Close()
	c := egress.New(egress.Options{Allowed: loopback, Version: "1.2.3"})
	id := egress.NewDeliveryID()
	res := c.Post(context.Background(), egress.Request{URL: srv.URL + "/hook", Body: body, Secret: secret, DeliveryID: id, Timeout: 5 * time.Second})
	if res.Outcome != egress.OK || string(res.Body) != `{"status":"shipped"}` || res.Status != 200 {
		t.Fatalf("result = %+v", res)
	}
	s := <-got
	if !verify(t, secret, s.header, s.body, time.Now()) {
		t.Fatalf("independent verifier refused %q", s.header)
	}
	if verify(t, []byte("another-secret"), s.header, s.body, time.Now()) || verify(t, secret, s.header, append(s.body, ' '), time.Now()) {
		t.Fatal("verifier accepted a wrong secret or a changed body")
	}
	if verify(t, secret, s.header, s.body, time.Now().Add(6*time.Minute)) {
		t.Fatal("verifier accepted a stale t")
	}
	if s.delivery != id || !strings.HasPrefix(id, "dlv_") || s.ua != "voiceagent/1.2.3" || s.ctype != "application/json" || string(s.body) != string(body) {
		t.Fatalf("request = %+v", s)
	}
}

// listener accepts connections and reports each peer address, so a test
// can show that no connection reached it (a probe connection made after
// the refused attempt must be the first one accepted).
func listener(t *testing.T, network, addr string) (net.Listener, <-chan string) {
	t.Helper()
	ln, err := net.Listen(network, addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	ch := make(chan string, 16)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				close(ch)
				return
			}
			ch <- conn.RemoteAddr().String()
			conn.Close()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return ln, ch
}

// assertUntouched proves ln accepted nothing before now: a probe
// connection is dialled and must be the first accepted.
func assertUntouched(t *testing.T, ln net.Listener, accepted <-chan string) {
	t.Helper()
	probe, err := net.Dial(ln.Addr().Network(), ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close()
	if first := <-accepted; first != probe.LocalAddr().String() {
		t.Fatalf("the refused address was connected to (first accepted %s, probe %s)", first, probe.LocalAddr())
	}
}

func TestHostnameResolvingToRefusedAddress(t *testing.T) {
	ln, accepted := listener(t, "tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	lookups := 0
	c := egress.New(egress.Options{Lookup: func(_ context.Context, host string) ([]netip.Addr, error) {
		lookups++
		if host != "tools.example.com" {
			t.Errorf("looked up %q", host)
		}
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	}})
	res := c.Post(context.Background(), egress.Request{URL: "http://tools.example.com:" + strconv.Itoa(port) + "/x", Body: []byte(`{}`), Secret: []byte("s"), Timeout: 5 * time.Second})
	if res.Outcome != egress.Refusal || !strings.Contains(res.Reason, "loopback") {
		t.Fatalf("result = %+v, want refused (loopback)", res)
	}
	if lookups == 0 {
		t.Fatal("the lookup hook was not used")
	}
	assertUntouched(t, ln, accepted)
}

func TestHostnameWithOneRefusedAddressAmongMany(t *testing.T) {
	// A name answering a metadata address and a loopback one: both refused,
	// nothing connected.
	ln, accepted := listener(t, "tcp", "127.0.0.1:0")
	port := ln.Addr().(*net.TCPAddr).Port
	c := egress.New(egress.Options{Lookup: func(context.Context, string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("169.254.169.254"), netip.MustParseAddr("::ffff:127.0.0.1")}, nil
	}})
	res := c.Post(context.Background(), egress.Request{URL: "http://rebind.example.com:" + strconv.Itoa(port) + "/", Body: []byte(`{}`), Timeout: 5 * time.Second})
	if res.Outcome != egress.Refusal {
		t.Fatalf("result = %+v", res)
	}
	assertUntouched(t, ln, accepted)
}

func TestRedirectIsNeverFollowed(t *testing.T) {
	target, accepted := listener(t, "tcp", "127.0.0.1:0")
	for _, loc := range []string{"http://" + target.Addr().String() + "/internal", "http://169.254.169.254/latest/meta-data/", "http://[::1]/"} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, loc, http.StatusFound)
		}))
		c := egress.New(egress.Options{Allowed: loopback})
		res := c.Post(context.Background(), egress.Request{URL: srv.URL, Body: []byte(`{}`), Timeout: 5 * time.Second})
		srv.Close()
		if res.Outcome != egress.Redirect || res.Status != http.StatusFound || res.Body != nil {
			t.Fatalf("redirect to %s: result = %+v", loc, res)
		}
	}
	assertUntouched(t, target, accepted)
}

func TestLiteralAddressesRefusedAtConnect(t *testing.T) {
	ln, accepted := listener(t, "tcp", "127.0.0.1:0")
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	c := egress.New(egress.Options{})
	for _, u := range []string{"http://127.0.0.1:" + port + "/", "http://[::ffff:127.0.0.1]:" + port + "/", "http://localhost:" + port + "/"} {
		res := c.Post(context.Background(), egress.Request{URL: u, Body: []byte(`{}`), Timeout: 5 * time.Second})
		if res.Outcome != egress.Refusal {
			t.Errorf("%s: result = %+v, want refused", u, res)
		}
	}
	assertUntouched(t, ln, accepted)
}

func TestAllowedNetworkIsReached(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `[1,2]`) }))
	defer srv.Close()
	for _, allowed := range [][]netip.Prefix{loopback, {netip.MustParsePrefix("127.0.0.1/32")}} {
		res := egress.New(egress.Options{Allowed: allowed}).Post(context.Background(), egress.Request{URL: srv.URL, Body: []byte(`{}`), Timeout: 5 * time.Second})
		if res.Outcome != egress.OK {
			t.Fatalf("allowed %v: %+v", allowed, res)
		}
	}
	// A neighbouring range does not open loopback.
	res := egress.New(egress.Options{Allowed: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}).Post(context.Background(), egress.Request{URL: srv.URL, Body: []byte(`{}`), Timeout: 5 * time.Second})
	if res.Outcome != egress.Refusal {
		t.Fatalf("10.0.0.0/8 allowed loopback: %+v", res)
	}
}

func TestBadAnswers(t *testing.T) {
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `"`+strings.Repeat("a", egress.MaxResponse)+`"`)
	})
	mux.HandleFunc("/big-chunked", func(w http.ResponseWriter, r *http.Request) {
		for range 70 {
			_, _ = io.WriteString(w, strings.Repeat(" ", 1024))
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/exact", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `"`+strings.Repeat("a", egress.MaxResponse-2)+`"`)
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `<html>ok</html>`) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, `{"error":"x"}`, 500) })
	mux.HandleFunc("/404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	mux.HandleFunc("/slow-body", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"a":`)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer close(release) // before Close, which waits for the handlers
	c := egress.New(egress.Options{Allowed: loopback})
	for _, tc := range []struct {
		path    string
		timeout time.Duration
		want    egress.Outcome
		status  int
	}{
		{"/big", 5 * time.Second, egress.TooLarge, 200},
		{"/big-chunked", 5 * time.Second, egress.TooLarge, 200},
		{"/exact", 5 * time.Second, egress.OK, 200},
		{"/html", 5 * time.Second, egress.NotJSON, 200},
		{"/500", 5 * time.Second, egress.Status, 500},
		{"/404", 5 * time.Second, egress.Status, 404},
		{"/slow", 200 * time.Millisecond, egress.Timeout, 0},
		{"/slow-body", 200 * time.Millisecond, egress.Timeout, 200},
	} {
		res := c.Post(context.Background(), egress.Request{URL: srv.URL + tc.path, Body: []byte(`{}`), Timeout: tc.timeout})
		if res.Outcome != tc.want || res.Status != tc.status {
			t.Errorf("%s: outcome %s status %d (%s), want %s %d", tc.path, res.Outcome, res.Status, res.Reason, tc.want, tc.status)
		}
		if tc.want != egress.OK && res.Body != nil {
			t.Errorf("%s: a failed answer carried a body", tc.path)
		}
	}
}

func TestNoProxyFromEnvironment(t *testing.T) {
	// A proxy would connect on our behalf, past the guard.
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, `{}`) }))
	defer srv.Close()
	res := egress.New(egress.Options{Allowed: loopback}).Post(context.Background(), egress.Request{URL: srv.URL, Body: []byte(`{}`), Timeout: 5 * time.Second})
	if res.Outcome != egress.OK {
		t.Fatalf("result = %+v", res)
	}
}

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url       string
		allowHTTP bool
		ok        bool
	}{
		{"https://api.example.com/voice/check-order", false, true},
		{"http://api.example.com/x", false, false},
		{"http://api.example.com/x", true, true},
		{"ftp://api.example.com/x", true, false},
		{"https://user:pw@api.example.com/", false, false},
		{"https:///nohost", false, false},
		{"https://127.0.0.1/x", false, false},
		{"https://10.1.2.3/x", false, false},
		{"https://169.254.169.254/latest", false, false},
		{"https://[::1]/x", false, false},
		{"https://[fd00::1]/x", false, false},
		{"https://[::ffff:10.0.0.1]/x", false, false},
		{"https://[64:ff9b::a9fe:a9fe]/x", false, false},
		{"https://100.64.0.1/x", false, false},
		{"https://93.184.216.34/x", false, true},
		{"https://api.example.com/x#frag", false, false},
		{"https://[fe80::1%25eth0]/x", false, false},
		{"https://0.0.0.0/x", false, false},
		{"https://[::]/x", false, false},
		// Numeric hosts that are not a dotted quad: URL parsers (WHATWG,
		// curl) and inet_aton read them as IPv4 addresses, so a business
		// testing its URL and the resolver alike reach 127.0.0.1.
		{"https://2130706433/x", false, false},
		{"https://0x7f000001/x", false, false},
		{"https://0177.0.0.1/x", false, false},
		{"https://0x7f.0.0.1/x", false, false},
		{"https://127.1/x", false, false},
		{"https://127.0.0.1./x", false, false},
		{"https://93.184.216.34./x", false, false},
		// Full-width digits: IDNA mapping (which net/http applies before
		// dialling) turns this host into 127.0.0.1.
		{"https://\uff11\uff12\uff17.\uff10.\uff10.\uff11/x", false, false},
		{"https://ex\u00e4mple.com/x", false, false},
		{"https://xn--exmple-cua.com/x", false, true},
		{"https://api.example.com./x", false, true},
		{"https://api-2.example.com:8443/x", false, true},
		{"https://api.example.com/" + strings.Repeat("a", 2048), false, false},
	} {
		err := egress.CheckURL(tc.url, tc.allowHTTP, nil)
		if (err == nil) != tc.ok {
			t.Errorf("CheckURL(%q, %v) = %v, want ok=%v", tc.url, tc.allowHTTP, err, tc.ok)
		}
	}
	if err := egress.CheckURL("http://127.0.0.1:8080/x", true, loopback); err != nil {
		t.Errorf("allowed loopback refused: %v", err)
	}
}

// TestFailureReasonHidesTheQuery: a business may put an API key in its
// tool URL's query string; a failed delivery's reason (logged on every
// failure) names scheme and host only.
func TestFailureReasonHidesTheQuery(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nothing listens there now: the connection fails
	c := egress.New(egress.Options{Allowed: loopback})
	res := c.Post(context.Background(), egress.Request{URL: "http://" + addr + "/hook?key=topsecret123", Body: []byte(`{}`), Timeout: 5 * time.Second})
	if res.Outcome != egress.Failed || res.Reason == "" {
		t.Fatalf("result = %+v, want a failure", res)
	}
	if strings.Contains(res.Reason, "topsecret123") {
		t.Fatalf("reason = %q holds the query", res.Reason)
	}
}

// TestFailureReasonHidesThePath: some receivers (chat and CRM webhooks)
// carry their token in the path; a failed delivery's reason, which goes
// to logs, the webhook delivery log and the live webhook.failed event a
// calls:read token sees, names the scheme and host only.
func TestFailureReasonHidesThePath(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	c := egress.New(egress.Options{Allowed: loopback})
	res := c.Post(context.Background(), egress.Request{URL: "http://" + addr + "/services/T0000/B0000/pathsecret456", Body: []byte(`{}`), Timeout: 5 * time.Second})
	if res.Outcome != egress.Failed || !strings.Contains(res.Reason, addr) {
		t.Fatalf("result = %+v, want a failure naming the host", res)
	}
	if strings.Contains(res.Reason, "pathsecret456") || strings.Contains(res.Reason, "/services") {
		t.Fatalf("reason = %q holds the path", res.Reason)
	}
}

// TestCheckURLRefusesImpossiblePorts: a port outside 1-65535 parses as a
// URL but can never be reached; it is 400 at creation instead of a
// webhook or tool that fails on every attempt.
func TestCheckURLRefusesImpossiblePorts(t *testing.T) {
	for _, u := range []string{"https://hooks.example.com:99999/", "https://hooks.example.com:0/", "https://hooks.example.com:65536/x"} {
		if err := egress.CheckURL(u, false, nil); err == nil {
			t.Errorf("%s accepted", u)
		}
	}
	for _, u := range []string{"https://hooks.example.com:8443/", "https://hooks.example.com:65535/", "https://hooks.example.com/"} {
		if err := egress.CheckURL(u, false, nil); err != nil {
			t.Errorf("%s refused: %v", u, err)
		}
	}
}

// TestMain fails the package's tests when a goroutine outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
