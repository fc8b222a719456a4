package relay

// aside runs fn, a rare step with a deep call chain (encoding/json,
// logging, the greeting, the model handshake, events and audit), on a
// goroutine of its own and waits for it. A goroutine's stack grows to its
// deepest call and the runtime shrinks it only when, parked, it uses less
// than a quarter of it, which a reader parked in its socket read never
// does: one start message or response.created on the reader itself would
// double its stack for the rest of the call. Steps run aside keep each
// reader's stack the size of its common path (a media frame in, an audio
// delta out). The reader waits, so order and ownership are as if it ran
// fn itself; a panic in fn is raised again on the caller's goroutine,
// where the call contains it.
func aside(fn func()) {
	var v any
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer func() { v = recover() }()
		fn()
	}()
	<-done
	if v != nil {
		panic(v)
	}
}
