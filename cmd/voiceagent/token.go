package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/voiceagent/voiceagent/internal/apitoken"
	"github.com/voiceagent/voiceagent/internal/apperr"
	"github.com/voiceagent/voiceagent/internal/audit"
	"github.com/voiceagent/voiceagent/internal/config"
	"github.com/voiceagent/voiceagent/internal/logging"
)

const tokenUsage = `usage:
  voiceagent token create --name NAME --scopes SCOPE[,SCOPE...] [--expires 90d]
  voiceagent token list
  voiceagent token revoke NAME

Scoped API tokens for least privilege; INTERNAL_API_BEARER stays the admin
token. create prints the new token once: it is stored only as a SHA-256
hash. --expires takes whole days (90d) or a Go duration (12h); default
never. A revoked token is refused at once by this database's instances
(within 10 seconds on each).

scopes: calls:read, calls:write, contacts:read, contacts:write,
        callers:read, callers:write, privacy, audit:read, metrics:read, admin
`

// runToken is `voiceagent token ...`: it works on the database the server
// uses (DATABASE_URL or DATA_DIR), applying migrations first, and audits
// what it changes with actor "cli".
func runToken(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, tokenUsage)
		return usageError{"token needs a subcommand: create, list or revoke"}
	}
	sub, args := args[0], args[1:]
	var (
		name, scopes, expires string
		fs                    = flag.NewFlagSet("token "+sub, flag.ContinueOnError)
	)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, tokenUsage) }
	switch sub {
	case "create":
		fs.StringVar(&name, "name", "", "token name")
		fs.StringVar(&scopes, "scopes", "", "comma-separated scopes")
		fs.StringVar(&expires, "expires", "", "lifetime, e.g. 90d (default: never)")
	case "list", "revoke":
	case "help", "-h", "--help":
		fmt.Fprint(stdout, tokenUsage)
		return nil
	default:
		fmt.Fprint(stderr, tokenUsage)
		return usageError{fmt.Sprintf("unknown token subcommand %q", sub)}
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err.Error()}
	}
	var scopeList []apitoken.Scope
	var lifetime time.Duration
	switch sub {
	case "create":
		if name == "" || scopes == "" || fs.NArg() > 0 {
			fmt.Fprint(stderr, tokenUsage)
			return usageError{"token create needs --name and --scopes"}
		}
		var err error
		if scopeList, err = apitoken.ParseScopes([]string{scopes}); err != nil {
			return usageError{apperr.MessageOf(err)}
		}
		if lifetime, err = apitoken.ParseExpiry(expires); err != nil {
			return usageError{apperr.MessageOf(err)}
		}
	case "list":
		if fs.NArg() > 0 {
			return usageError{"token list takes no arguments"}
		}
	case "revoke":
		if fs.NArg() != 1 {
			fmt.Fprint(stderr, tokenUsage)
			return usageError{"token revoke needs exactly one NAME"}
		}
		name = fs.Arg(0)
	}

	getenv, err := withDotEnv(getenv)
	if err != nil {
		return err
	}
	cfg, err := config.Load(getenv)
	if err != nil {
		return fmt.Errorf("configuration: %w", oneLine(err))
	}
	db, err := openDB(ctx, cfg)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		return err
	}
	log := logging.New(stderr, cfg.LogFormat, "warn")
	rec := audit.NewRecorder(db.Audit(), log)
	defer rec.Close() // writes the create/revoke event before the database closes
	svc := apitoken.NewService(db.APITokens(), rec, apitoken.Options{Log: log})
	defer svc.Close()

	switch sub {
	case "create":
		t, secret, err := svc.Create(ctx, "cli", name, scopeList, lifetime)
		if err != nil {
			return errors.New(apperr.MessageOf(err))
		}
		exp := "never"
		if !t.ExpiresAt.IsZero() {
			exp = t.ExpiresAt.Format(time.RFC3339)
		}
		fmt.Fprintf(stdout, "%s\n", secret)
		fmt.Fprintf(stderr, "token %q created with scopes %s, expires %s.\nIt is shown only this once: store it now (send it as Authorization: Bearer <token>).\n", t.Name, apitoken.Join(t.Scopes), exp)
	case "list":
		list, err := svc.List(ctx)
		if err != nil {
			return errors.New(apperr.MessageOf(err))
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "NAME\tSCOPES\tCREATED\tEXPIRES\tLAST USED\tCREATED BY")
		for _, t := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, apitoken.Join(t.Scopes), when(t.CreatedAt, "-"), when(t.ExpiresAt, "never"), when(t.LastUsedAt, "never"), t.CreatedBy)
		}
		tw.Flush()
	case "revoke":
		if err := svc.Revoke(ctx, "cli", name); err != nil {
			return errors.New(apperr.MessageOf(err))
		}
		fmt.Fprintf(stdout, "token %q revoked\n", name)
	}
	return nil
}

func when(t time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	return t.UTC().Format(time.RFC3339)
}
