package store_test

import (
	"context"
	"testing"

	"github.com/voiceagent/voiceagent/internal/store"
	"github.com/voiceagent/voiceagent/internal/store/storetest"
	"github.com/voiceagent/voiceagent/internal/webhooks"
)

// TestOutboxSubscriptionAfterNone: an admission batch that found no
// subscription makes the next ones send no webhook events; a subscription
// created since (here or by another instance) must still get the event of
// every call admitted after it.
func TestOutboxSubscriptionAfterNone(t *testing.T) {
	storetest.Engines(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c0 := acceptedCall(700, "")
		if _, _, err := db.Calls().AdmitCall(ctx, c0, capacity(10, c0)); err != nil {
			t.Fatal(err)
		}
		subscribe(t, db, "wh_000000000000000c", webhooks.CallStarted)
		for i := 1; i <= 3; i++ {
			c := acceptedCall(700+i, "")
			if _, _, err := db.Calls().AdmitCall(ctx, c, capacity(10, c)); err != nil {
				t.Fatal(err)
			}
		}
		got, want := outboxTypes(t, db), []string{
			"call.started " + sid(701) + " wh_000000000000000c",
			"call.started " + sid(702) + " wh_000000000000000c",
			"call.started " + sid(703) + " wh_000000000000000c",
		}
		if len(got) != len(want) {
			t.Fatalf("outbox = %q, want %q", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("outbox = %q, want %q", got, want)
			}
		}
	})
}
