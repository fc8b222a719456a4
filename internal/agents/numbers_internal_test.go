package agents

import (
	"context"
	"sync"
	"testing"
	"time"
)

// gatedNumbers is a Store whose first ListNumbers blocks until released;
// each read answers the next of answers. Only ListNumbers is called.
type gatedNumbers struct {
	Store
	mu      sync.Mutex
	calls   int
	started chan struct{}
	release chan struct{}
	answers [][]Number
}

func (g *gatedNumbers) ListNumbers(context.Context) ([]Number, error) {
	g.mu.Lock()
	n := g.calls
	g.calls++
	g.mu.Unlock()
	if n == 0 {
		close(g.started)
		<-g.release
	}
	return g.answers[n], nil
}

// TestReloadHoldsNoLockAcrossTheRead: a reload after a change does not
// wait for a slow read that started before it (no lock is held while the
// database is read), and that older read, finishing last, does not
// replace the newer assignment.
func TestReloadHoldsNoLockAcrossTheRead(t *testing.T) {
	const number = "+15555550177"
	g := &gatedNumbers{
		started: make(chan struct{}),
		release: make(chan struct{}),
		answers: [][]Number{
			{{PhoneNumber: number, AgentID: "agt_000000000000000000000001"}}, // read before the change
			{{PhoneNumber: number, AgentID: "agt_000000000000000000000002"}}, // read after it
		},
	}
	s := NewService(g, nil, nil, Settings{ServiceNumber: "+15555550100", NumbersTTL: time.Hour})
	ctx := context.Background()

	older := make(chan struct{})
	go func() {
		defer close(older)
		_, _ = s.reloadNumbers(ctx)
	}()
	<-g.started

	newer := make(chan error, 1)
	go func() {
		_, err := s.reloadNumbers(ctx)
		newer <- err
	}()
	select {
	case err := <-newer:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		close(g.release)
		t.Fatal("the reload after the change waited for the older read")
	}
	close(g.release)
	<-older

	id, ok, err := s.AgentFor(ctx, number)
	if err != nil || !ok || id != "agt_000000000000000000000002" {
		t.Fatalf("AgentFor = %q, %v, %v; want the assignment read after the change", id, ok, err)
	}
}
