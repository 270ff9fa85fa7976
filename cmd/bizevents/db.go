package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net/url"
	"strings"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/postgres"
	"github.com/bizevents/bizevents/engine/eventlog/sqlite"
)

// Environment variables read by the flags of dbOptions.
const (
	envDB     = "BIZEVENTS_DB"
	envSchema = "BIZEVENTS_SCHEMA"
)

// defaultDB is the SQLite file used when neither --db nor BIZEVENTS_DB says
// otherwise, relative to the working directory.
const defaultDB = "bizevents.db"

// dbOptions says which event log to open.
type dbOptions struct {
	// DB is a PostgreSQL URL (postgres:// or postgresql://) or the path of
	// a SQLite file. Default: env BIZEVENTS_DB, else [defaultDB].
	DB string
	// Schema is the PostgreSQL schema of the log's tables. Default: env
	// BIZEVENTS_SCHEMA, else [postgres.DefaultSchema]. Invalid with SQLite.
	Schema string
	// MaxEventSize is the largest event accepted, in bytes. Default
	// [eventlog.DefaultMaxEventSize].
	MaxEventSize int

	// schemaFlag records that --schema was given on the command line (an
	// error with SQLite, whereas the environment variable is ignored).
	schemaFlag bool
}

// register adds --db and --schema to fs, with defaults from the
// environment, and --max-event-size when withSize is set (commands that
// append).
func (o *dbOptions) register(fs *flag.FlagSet, env *cliEnv, withSize bool) {
	o.DB = defaultDB
	if v := env.getenv(envDB); v != "" {
		o.DB = v
	}
	o.Schema = env.getenv(envSchema)
	fs.Var(redactedValue{&o.DB}, "db", "the event log: a postgres:// `URL`, or a SQLite file path (env "+envDB+")")
	fs.Func("schema", "PostgreSQL `schema` of the log's tables (env "+envSchema+", default "+postgres.DefaultSchema+")", func(s string) error {
		o.Schema, o.schemaFlag = s, true
		return nil
	})
	if withSize {
		o.MaxEventSize = eventlog.DefaultMaxEventSize
		fs.Var(intValue{&o.MaxEventSize}, "max-event-size", "largest event accepted, in `bytes`")
	}
}

// isPostgres reports whether db names a PostgreSQL database.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

// describe names the log for messages, without a password.
func (o dbOptions) describe() string {
	if !isPostgres(o.DB) {
		return "sqlite " + o.DB
	}
	schema := o.Schema
	if schema == "" {
		schema = postgres.DefaultSchema
	}
	return "postgres " + redact(o.DB) + " schema " + schema
}

// openStore opens the event log o names, running its migrations.
func openStore(ctx context.Context, o dbOptions, logger *slog.Logger) (eventlog.Store, error) {
	cfg := eventlog.Config{MaxEventSize: o.MaxEventSize}
	if o.DB == "" {
		return nil, usagef("--db is empty: want a postgres:// URL or a SQLite file path")
	}
	if isPostgres(o.DB) {
		s, err := postgres.Open(ctx, o.DB, postgres.Config{Config: cfg, Schema: o.Schema, Logger: logger})
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", o.describe(), err)
		}
		return s, nil
	}
	if o.schemaFlag {
		return nil, usagef("--schema is for PostgreSQL, and --db %q is a SQLite file", o.DB)
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Config: cfg, Path: o.DB, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.describe(), err)
	}
	return s, nil
}

// redact hides the password of a URL.
func redact(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// redactedValue is a string flag whose shown value hides a URL's password
// (in --help, where the default may come from the environment).
type redactedValue struct{ p *string }

func (v redactedValue) String() string {
	if v.p == nil {
		return ""
	}
	if isPostgres(*v.p) {
		return redact(*v.p)
	}
	return *v.p
}

func (v redactedValue) Set(s string) error {
	*v.p = s
	return nil
}
