package privacy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/privacy"
)

// steps records, in order, what the service asked of its dependencies.
type steps []string

type fakeStore struct{ log *steps }

func (f fakeStore) EraseNumber(_ context.Context, number, _ string) (privacy.Counts, error) {
	*f.log = append(*f.log, "erase "+number)
	return privacy.Counts{}, nil
}

func (f fakeStore) ExportNumber(_ context.Context, number string) (privacy.Export, error) {
	*f.log = append(*f.log, "export "+number)
	return privacy.Export{PhoneNumber: number}, nil
}

type fakeRecorder struct{ log *steps }

func (f fakeRecorder) Record(ev audit.Event) { *f.log = append(*f.log, "record "+ev.Type) }

// Flush insists on a deadline: a busy queue must not hold an erasure forever.
func (f fakeRecorder) Flush(ctx context.Context) {
	if _, ok := ctx.Deadline(); !ok {
		*f.log = append(*f.log, "flush without deadline")
		return
	}
	*f.log = append(*f.log, "flush")
}

const (
	subject  = "+15555550142"
	inbound  = "+15005550007"
	outbound = "+15005550006"
)

func newService(log *steps) *privacy.Service {
	rec := fakeRecorder{log}
	return privacy.NewService(fakeStore{log}, rec, rec, privacy.Settings{
		HashKey:        "k",
		ServiceNumbers: map[string]string{inbound: "TWILIO_PHONE_NUMBER", outbound: "TWILIO_OUTBOUND_NUMBER", "": "UNSET"},
	})
}

// TestQueuedAuditFlushedFirst: audit events still queued are written
// before the store erases or exports, so the sweep sees them.
func TestQueuedAuditFlushedFirst(t *testing.T) {
	var log steps
	svc := newService(&log)
	if _, err := svc.Erase(context.Background(), "api:primary", subject); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Export(context.Background(), "api:primary", subject); err != nil {
		t.Fatal(err)
	}
	want := []string{"flush", "erase " + subject, "record " + audit.TypeErasure, "flush", "export " + subject, "record " + audit.TypeErasure}
	if len(log) != len(want) {
		t.Fatalf("steps = %q, want %q", log, want)
	}
	for i := range want {
		if log[i] != want[i] {
			t.Fatalf("steps = %q, want %q", log, want)
		}
	}
}

// TestServiceNumbersRefused: erasing the service's own number would delete
// every call; it is refused before anything is touched.
func TestServiceNumbersRefused(t *testing.T) {
	for number, name := range map[string]string{inbound: "TWILIO_PHONE_NUMBER", outbound: "TWILIO_OUTBOUND_NUMBER"} {
		var log steps
		_, err := newService(&log).Erase(context.Background(), "api:primary", number)
		if !apperr.Is(err, apperr.Conflict) {
			t.Fatalf("Erase(%s) err = %v, want conflict", name, err)
		}
		if msg := apperr.MessageOf(err); !strings.Contains(msg, name) || strings.Contains(msg, number) {
			t.Fatalf("message = %q, want it to name %s and not echo the number", msg, name)
		}
		if len(log) != 0 {
			t.Fatalf("refused erasure still did %q", log)
		}
	}
}

type cleanupFailStore struct{ fakeStore }

func (cleanupFailStore) EraseNumber(context.Context, string, string) (privacy.Counts, error) {
	return privacy.Counts{privacy.KindCalls: 1}, errors.New("erasure committed; VACUUM failed")
}

// TestErasureAuditedWhenCleanupFails: an erasure committed whose cleanup
// failed is still audited (marked), and answered as an error.
func TestErasureAuditedWhenCleanupFails(t *testing.T) {
	var log steps
	var got []audit.Event
	svc := privacy.NewService(cleanupFailStore{fakeStore{&log}}, recordFunc(func(ev audit.Event) { got = append(got, ev) }), nil, privacy.Settings{HashKey: "k"})
	if _, err := svc.Erase(context.Background(), "api:primary", subject); err == nil {
		t.Fatal("cleanup failure not reported")
	}
	if len(got) != 1 || got[0].Detail["cleanup"] != "failed" || got[0].Detail[privacy.KindCalls] != int64(1) {
		t.Fatalf("audit = %+v", got)
	}
}

type recordFunc func(audit.Event)

func (f recordFunc) Record(ev audit.Event) { f(ev) }
