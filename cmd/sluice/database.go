package main

import (
	"context"
	"flag"
	"io"
	"log/slog"
	"path/filepath"
	"strings"

	"sluice/internal/settings"
	"sluice/internal/store"
	"sluice/internal/store/embedded"
	"sluice/internal/store/postgres"
)

// pgOptions maps Kong's pg_* settings to the PostgreSQL store's options.
func pgOptions(s *settings.Settings) postgres.Options {
	o := postgres.DefaultOptions()
	pg := s.PG
	if pg.Host != "" {
		o.Host = pg.Host
	}
	if pg.Port != 0 {
		o.Port = pg.Port
	}
	if pg.Database != "" {
		o.Database = pg.Database
	}
	if pg.User != "" {
		o.User = pg.User
	}
	o.Password = pg.Password
	o.Schema = pg.Schema
	if pg.Timeout > 0 {
		o.Timeout = pg.Timeout
	}
	o.SSL = pg.SSL
	o.SSLVerify = pg.SSLVerify
	o.SSLRequired = pg.SSLRequired
	o.SSLVersion = pg.SSLVersion
	o.SSLCert, o.SSLCertKey = pg.SSLCert, pg.SSLCertKey
	if pg.MaxConcurrentQueries > 0 {
		o.MaxConns = pg.MaxConcurrentQueries
	}
	return o
}

// openStore opens the store named by the database setting; nil for off.
func openStore(ctx context.Context, s *settings.Settings, log *slog.Logger) (store.Store, error) {
	switch s.Database {
	case "embedded":
		dir := filepath.Join(s.Prefix, "data")
		st, err := embedded.Open(dir)
		if err != nil {
			return nil, err
		}
		log.Info("embedded store opened", "path", st.Path())
		return st, nil
	case "postgres":
		o := pgOptions(s)
		st, err := postgres.Open(ctx, o)
		if err != nil {
			return nil, err
		}
		log.Info("postgres store opened", "host", o.Host, "port", o.Port, "database", o.Database)
		return st, nil
	}
	return nil, nil
}

// openClusterCounters opens rate-limiting's cluster policy counters
// (ratelimiting_metrics) on the PostgreSQL database, with their own pool.
func openClusterCounters(s *settings.Settings, log *slog.Logger) (*postgres.Counters, error) {
	return postgres.OpenCounters(pgOptions(s), postgres.CountersOptions{Logger: log})
}

// cmdMigrations runs `sluice migrations bootstrap|up|status|reset`.
func cmdMigrations(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		say(stderr, "Usage: sluice migrations bootstrap|up|status|reset [-c kong.conf] [-p prefix] [--yes]\n")
		return 2
	}
	sub, rest := args[0], args[1:]
	yes := false
	var kept []string
	for _, a := range rest {
		if a == "--yes" || a == "-y" {
			yes = true
			continue
		}
		kept = append(kept, a)
	}
	fs := flag.NewFlagSet("migrations", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var conf, prefix string
	fs.StringVar(&conf, "c", "", "configuration file (kong.conf)")
	fs.StringVar(&conf, "conf", "", "configuration file (kong.conf)")
	fs.StringVar(&prefix, "p", "", "prefix directory")
	fs.StringVar(&prefix, "prefix", "", "prefix directory")
	if err := fs.Parse(kept); err != nil {
		return 2
	}
	flags := map[string]string{}
	if prefix != "" {
		flags["prefix"] = prefix
	}
	s, err := settings.Load(settings.Options{ConfPath: conf, Flags: flags, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		say(stderr, "Error: invalid settings:\n%v\n", err)
		return 1
	}
	if s.Database != "postgres" {
		say(stderr, "Error: migrations apply to database = postgres (this node has database = %s)\n", s.Database)
		return 1
	}
	ctx := context.Background()
	o := pgOptions(s)
	switch sub {
	case "bootstrap":
		if err := postgres.Bootstrap(ctx, o); err != nil {
			say(stderr, "Error: %v\n", err)
			return 1
		}
		say(stdout, "Database %q is up to date\n", o.Database)
	case "up":
		ran, err := postgres.Up(ctx, o)
		if err != nil {
			say(stderr, "Error: %v\n", err)
			return 1
		}
		if len(ran) == 0 {
			say(stdout, "Database %q is already up to date\n", o.Database)
		} else {
			say(stdout, "Ran migrations: %s\n", strings.Join(ran, ", "))
		}
	case "status":
		st, err := postgres.GetStatus(ctx, o)
		if err != nil {
			say(stderr, "Error: %v\n", err)
			return 1
		}
		switch {
		case !st.Bootstrapped:
			say(stdout, "Database needs bootstrapping: run 'sluice migrations bootstrap'\n")
			return 3
		case len(st.Pending) > 0:
			say(stdout, "Executed: %s\nPending: %s\nRun 'sluice migrations up'\n", strings.Join(st.Executed, ", "), strings.Join(st.Pending, ", "))
			return 5
		default:
			say(stdout, "Database is up to date (%d migrations)\n", len(st.Executed))
		}
	case "reset":
		if !yes {
			say(stderr, "Error: reset deletes every entity; run again with --yes\n")
			return 1
		}
		if err := postgres.Reset(ctx, o); err != nil {
			say(stderr, "Error: %v\n", err)
			return 1
		}
		say(stdout, "Database %q reset\n", o.Database)
	default:
		say(stderr, "Error: unknown migrations command %q\n", sub)
		return 2
	}
	return 0
}
