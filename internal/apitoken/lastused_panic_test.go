package apitoken_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// panickyTouches panics on the first last-used write, then writes.
type panickyTouches struct {
	apitoken.Store
	calls   atomic.Int64
	written chan struct{}
}

func (p *panickyTouches) TouchAPITokens(ctx context.Context, used map[string]time.Time) error {
	if p.calls.Add(1) == 1 {
		panic("injected test panic in the last-used write")
	}
	err := p.Store.TouchAPITokens(ctx, used)
	select {
	case p.written <- struct{}{}:
	default:
	}
	return err
}

// TestLastUsedWriterContainsAPanic: the background last-used writer
// survives a panicking write (a store fault): the panic is recorded as
// error_occurred and the next interval's notes are written, instead of the
// panic ending the process and every live call.
func TestLastUsedWriterContainsAPanic(t *testing.T) {
	ctx := context.Background()
	db := storetest.SQLite(t)
	st := &panickyTouches{Store: db.APITokens(), written: make(chan struct{}, 1)}
	ev := &events{}
	s := apitoken.NewService(st, ev, apitoken.Options{TouchEvery: time.Millisecond})
	defer s.Close()
	_, secret, err := s.Create(ctx, "cli", "busy", []apitoken.Scope{apitoken.MetricsRead}, 0)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.After(30 * time.Second)
	for done := false; !done; {
		if _, err := s.Authenticate(ctx, secret); err != nil {
			t.Fatal(err)
		}
		select {
		case <-st.written:
			done = true
		case <-deadline:
			t.Fatalf("no last-used write after the panic (%d attempts)", st.calls.Load())
		case <-time.After(5 * time.Millisecond):
		}
	}
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var errs []audit.Event
	for _, e := range ev.evs {
		if e.Type == audit.TypeError {
			errs = append(errs, e)
		}
	}
	if len(errs) != 1 || errs[0].Detail["where"] != "api_token_last_used" {
		t.Fatalf("error_occurred events = %+v, want one for the last-used writer", errs)
	}
}
