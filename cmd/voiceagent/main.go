// Command voiceagent is a self-hosted voice telephony agent server: Twilio
// webhooks, an AI agent over Twilio Media Streams and a Realtime API, and a
// bearer-protected operator API.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "voiceagent:", err)
		stop()
		os.Exit(exitCode(err))
	}
}
