package storage

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/postgres"
	"github.com/bizevents/bizevents/engine/eventlog/sqlite"
)

// Options says which database to open.
type Options struct {
	// URL is a PostgreSQL URL (postgres:// or postgresql://) or the path of
	// a SQLite file.
	URL string
	// Schema is the PostgreSQL schema; default postgres.DefaultSchema.
	// Must be empty for SQLite.
	Schema string
	// Log configures the event log.
	Log    eventlog.Config
	Logger *slog.Logger
}

// IsPostgres reports whether url names a PostgreSQL database.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// Open opens the database o names and runs the migrations.
func Open(ctx context.Context, o Options, migrations ...Migration) (DB, error) {
	if o.URL == "" {
		return nil, fmt.Errorf("storage: open: no database given: want a postgres:// URL or a SQLite file path")
	}
	if IsPostgres(o.URL) {
		return OpenPostgres(ctx, o.URL, postgres.Config{Config: o.Log, Schema: o.Schema, Logger: o.Logger}, migrations...)
	}
	if o.Schema != "" {
		return nil, fmt.Errorf("storage: open: a schema is for PostgreSQL, and %q is a SQLite file", o.URL)
	}
	log, err := sqlite.Open(ctx, sqlite.Config{Config: o.Log, Path: o.URL, Logger: o.Logger})
	if err != nil {
		return nil, err
	}
	db, err := NewSQLite(ctx, log, migrations...)
	if err != nil {
		_ = log.Close()
		return nil, err
	}
	return db, nil
}
