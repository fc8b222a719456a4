// Package load holds the measuring modes of `voiceagent simulate`: the call
// load generator (real-time probe frames both ways, relay-added latency
// measured in this one process), the webhook load, the soak and the relay
// floor the call figures are compared with.
package load
