// Package fake holds test doubles that speak the real wire protocols the
// voice agent talks to: Twilio webhook signing, a Twilio Media Streams
// client and an OpenAI-compatible Realtime server.
//
// It is a normal (non _test) package so that unit tests, end-to-end tests,
// the simulate command and benchmarks can share it. Production server code
// must never import it.
package fake
