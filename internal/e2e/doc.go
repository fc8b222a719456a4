// Package e2e holds end-to-end, fault and drain tests: the real wired
// server (through apptest or the real binary) driven by the simulator and
// the fakes of internal/fake, with every log line and response body
// searched for leaked secrets and unmasked phone numbers. It has no
// non-test code.
package e2e
