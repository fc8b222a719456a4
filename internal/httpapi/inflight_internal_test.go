package httpapi

import (
	"context"
	"sync"
	"testing"
	"time"
)

func TestInflightCountsRequestsArrivingWhileDraining(t *testing.T) {
	var f inflight
	f.wait(context.Background()) // idle: returns at once
	f.add()
	done := make(chan struct{})
	go func() { f.wait(context.Background()); close(done) }()
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); f.add(); time.Sleep(time.Millisecond); f.done() }()
	}
	select {
	case <-done:
		t.Fatal("wait returned with a request in flight")
	case <-time.After(20 * time.Millisecond):
	}
	f.done()
	wg.Wait()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("wait did not return at zero")
	}
	f.add()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	start := time.Now()
	f.wait(ctx)
	if time.Since(start) > 2*time.Second {
		t.Fatal("wait ignored ctx")
	}
	f.done()
}
