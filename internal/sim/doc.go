// Package sim is the harness that places simulated calls against a
// voiceagent server: signed Twilio webhooks, the Media Streams socket and a
// fake Realtime model, all from internal/fake. Scenarios (package
// sim/scenario, behind `voiceagent simulate`) and load modes (package
// sim/load, behind `voiceagent simulate --load`, `--webhooks` and `--soak`)
// are built on it.
//
// The server is either started in process on a temporary SQLite database
// (StartInProcess), started as a separate child process so its CPU time and
// memory can be read from /proc (StartChild), or an already running one
// reached through a Target.
package sim
