package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/joho/godotenv"

	"github.com/voiceagent/voiceagent/internal/config"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usageError marks a bad command line (exit status 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) {
		return 2
	}
	return 1
}

const usage = `usage: voiceagent [command]

commands:
  serve     run the server (default)
  migrate   apply database migrations and exit
  check     validate the configuration and print a security checklist
  simulate  place simulated calls (no account needed); --load benchmarks
  token     create, list or revoke scoped API tokens (token help)
  version   print the version
`

// run is the whole program behind main: it parses the command, loads the
// configuration through getenv (plus a .env file when present) and runs
// the command until ctx ends.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "version", "-version", "--version":
		fmt.Fprintln(stdout, "voiceagent", version)
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "simulate":
		return runSimulate(ctx, args, getenv, stdout, stderr)
	case "token":
		return runToken(ctx, args, getenv, stdout, stderr)
	case "serve", "migrate", "check":
		if len(args) > 0 {
			fmt.Fprint(stderr, usage)
			return usageError{fmt.Sprintf("%s takes no arguments (configuration comes from the environment)", cmd)}
		}
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", cmd)}
	}
	getenv, err := withDotEnv(getenv)
	if err != nil {
		return err
	}
	if cmd == "check" {
		return runCheck(getenv, stdout)
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", oneLine(err))
	}
	switch cmd {
	case "migrate":
		return runMigrate(ctx, cfg, stdout)
	default:
		return serve(ctx, cfg, stdout, stderr, nil)
	}
}

// withDotEnv layers a .env file (ENV_FILE, default ./.env) under the real
// environment: a variable set in the environment wins.
func withDotEnv(getenv func(string) string) (func(string) string, error) {
	path := getenv("ENV_FILE")
	explicit := path != ""
	if !explicit {
		path = ".env"
	}
	vals, err := godotenv.Read(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !explicit {
			return getenv, nil
		}
		// Never godotenv's text: a parse error quotes the offending line,
		// which may hold a secret.
		what := "cannot be parsed"
		if errors.Is(err, os.ErrNotExist) {
			what = "does not exist"
		} else if errors.Is(err, os.ErrPermission) {
			what = "cannot be read (permission denied)"
		}
		if explicit {
			return nil, fmt.Errorf("ENV_FILE %s %s", path, what)
		}
		return nil, fmt.Errorf(".env %s", what)
	}
	return func(k string) string {
		if v := getenv(k); v != "" {
			return v
		}
		return vals[k]
	}, nil
}

// oneLine joins multi-error configuration failures with "; " so each run
// prints one line.
func oneLine(err error) error {
	return errors.New(strings.ReplaceAll(err.Error(), "\n", "; "))
}

// runCheck prints the whole checklist, with what Load would refuse as FAIL
// lines, and fails when any line does.
func runCheck(getenv func(string) string, stdout io.Writer) error {
	checks := config.LoadForCheck(getenv)
	var failed []string
	for _, c := range checks {
		fmt.Fprintln(stdout, c)
		if c.Status == config.Fail {
			failed = append(failed, c.Name)
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("security checklist has failures: %s", strings.Join(failed, ", "))
	}
	return nil
}

func runMigrate(ctx context.Context, cfg *config.Config, stdout io.Writer) error {
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "database at schema version %d\n", v)
	return nil
}
