// Package scenario holds the call scenarios behind `voiceagent simulate`:
// each places calls through a sim.Target and states an expectation that
// can fail (a conversation, barge-in, a contact call, an HTTP tool, a
// blocked caller, a caller over capacity).
package scenario
