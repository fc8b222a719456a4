package sim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// ChildOptions configure StartChild.
type ChildOptions struct {
	// Exe is the voiceagent binary (normally os.Executable()).
	Exe string
	// Env is the server's whole environment (nothing is inherited but
	// PATH and HOME); PORT and DATA_DIR are filled in.
	Env map[string]string
	// LogFile receives the server's output (default: DATA_DIR/server.log).
	LogFile string
	// Args are the binary's arguments (default: serve; the relay floor
	// is "simulate --floor-serve").
	Args []string
}

// Child is a voiceagent server running as a separate process, so its CPU
// time and memory can be measured apart from the load generator's.
type Child struct {
	PID     int
	Target  Target
	LogFile string

	dir  string
	cmd  *exec.Cmd
	done chan error
}

// StartChild starts `voiceagent serve` on a free loopback port with a
// temporary DATA_DIR (a fresh SQLite database) and waits until /ready.
func StartChild(ctx context.Context, o ChildOptions) (_ *Child, err error) {
	c := &Child{done: make(chan error, 1)}
	c.dir, err = os.MkdirTemp("", "voiceagent-load-")
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			c.Stop()
		}
	}()
	addr, err := freeLoopback()
	if err != nil {
		return nil, err
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	vars := map[string]string{"PORT": port, "DATA_DIR": filepath.Join(c.dir, "data")}
	for k, v := range o.Env {
		vars[k] = v
	}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	c.LogFile = o.LogFile
	if c.LogFile == "" {
		c.LogFile = filepath.Join(c.dir, "server.log")
	}
	logf, err := os.Create(c.LogFile)
	if err != nil {
		return nil, err
	}
	args := o.Args
	if len(args) == 0 {
		args = []string{"serve"}
	}
	c.cmd = exec.Command(o.Exe, args...)
	// No .env is read from the temporary working directory.
	c.cmd.Dir = c.dir
	c.cmd.Env = env
	c.cmd.Stdout, c.cmd.Stderr = logf, logf
	if err := c.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start server: %w", err)
	}
	c.PID = c.cmd.Process.Pid
	go func() {
		c.done <- c.cmd.Wait()
		logf.Close()
	}()
	c.Target = Target{
		BaseURL:      "http://127.0.0.1:" + port,
		PublicURL:    vars["PUBLIC_URL"],
		AuthToken:    vars["TWILIO_AUTH_TOKEN"],
		AccountSID:   vars["TWILIO_ACCOUNT_SID"],
		Bearer:       vars["INTERNAL_API_BEARER"],
		CalledNumber: vars["TWILIO_PHONE_NUMBER"],
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	ready := make(chan error, 1)
	go func() { ready <- c.Target.WaitReady(rctx) }()
	select {
	case err := <-ready:
		if err != nil {
			return nil, fmt.Errorf("%w (server log: %s)", err, c.LogFile)
		}
	case err := <-c.done:
		c.done <- err
		return nil, fmt.Errorf("server exited at start: %v (server log: %s)", err, c.LogFile)
	}
	return c, nil
}

// Stop sends SIGTERM and waits for the drain (up to 60 s, then kills). It
// returns the process's exit error (nil for exit status 0).
func (c *Child) Stop() error {
	var err error
	if c.cmd != nil && c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err = <-c.done:
			c.done <- err
		case <-time.After(60 * time.Second):
			_ = c.cmd.Process.Kill()
			err = errors.New("server did not stop within 60 s of SIGTERM; killed")
		}
	}
	return err
}

// Remove deletes the child's temporary directory (database and log).
func (c *Child) Remove() {
	if c.dir != "" {
		_ = os.RemoveAll(c.dir)
	}
}
