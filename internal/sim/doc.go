// Package sim places simulated calls against a voiceagent server: signed
// Twilio webhooks, the Media Streams socket and a fake Realtime model, all
// from internal/fake. It holds the scenarios behind `voiceagent simulate`
// (each with an expectation that can fail), the load generator behind
// `voiceagent simulate --load` (real-time probe frames both ways, relay-added
// latency measured in this one process) and the webhook load mode.
//
// The server is either started in process on a temporary SQLite database
// (StartInProcess), started as a separate child process so its CPU time and
// memory can be read from /proc (StartChild), or an already running one
// reached through a Target.
package sim
