package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/voiceagent/voiceagent/internal/sim"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
)

// burstSize is how many signed calls arrive at once: more than the
// PostgreSQL pool's 20 connections.
const burstSize = 64

// TestPostgresBurstOnFreshServer sends a burst of signed, unique calls to
// a freshly started server on PostgreSQL (a cold statement cache, as right
// after a deploy), several times over. A statement
// cache that held its lock while waiting for a pooled connection and every
// connection's transaction waiting for that lock left a server answering
// nothing. Every call must be answered with TwiML before the deadline.
func TestPostgresBurstOnFreshServer(t *testing.T) {
	const servers = 3
	for i := range servers {
		t.Run(fmt.Sprint("server", i), func(t *testing.T) {
			db := storetest.Postgres(t)
			r := newRig(t, rigOptions{DB: db, Env: map[string]string{"CALLS_PER_MINUTE": "1000000", "LOG_LEVEL": "error"}})
			burst(ctxFor(t, 30*time.Second), t, r.target)
		})
	}
}

// burst posts burstSize signed /voice/incoming webhooks at once, each a
// new call, and fails unless every one is answered 200 with TwiML.
func burst(ctx context.Context, t *testing.T, target sim.Target) {
	t.Helper()
	start := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, burstSize)
	for i := range burstSize {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			from := fmt.Sprintf("+1555555%04d", 100+i%100) // 555-01xx, reserved
			code, body, err := target.Webhook(ctx, "/voice/incoming", target.CallParams(from, sim.ServiceNumber))
			switch {
			case err != nil:
				errs <- fmt.Errorf("call %d not answered: %w", i, err)
			case code != http.StatusOK:
				errs <- fmt.Errorf("call %d: HTTP %d %s", i, code, body)
			default:
				if _, err := sim.ParseTwiML(body); err != nil {
					errs <- fmt.Errorf("call %d: %w", i, err)
				}
			}
		}()
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
