package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/tables"
)

// migrations are the engine's tables, in the order they are made.
func migrations() []storage.Migration {
	var ms []storage.Migration
	ms = append(ms, tables.Migrations...)
	ms = append(ms, solution.Migrations...)
	return ms
}

// openEngine opens the database o names with the engine's tables, and an
// engine on it with the imported solutions active. Close the database when
// done.
func openEngine(ctx context.Context, o dbOptions, logger *slog.Logger, handlers pipeline.Handlers) (*pipeline.Engine, storage.DB, error) {
	if o.DB == "" {
		return nil, nil, usagef("--db is empty: want a postgres:// URL or a SQLite file path")
	}
	if !isPostgres(o.DB) && o.schemaFlag {
		return nil, nil, usagef("--schema is for PostgreSQL, and --db %q is a SQLite file", o.DB)
	}
	opts := storage.Options{URL: o.DB, Log: eventlog.Config{MaxEventSize: o.MaxEventSize}, Logger: logger}
	if isPostgres(o.DB) {
		opts.Schema = o.Schema
	}
	db, err := storage.Open(ctx, opts, migrations()...)
	if err != nil {
		return nil, nil, fmt.Errorf("open %s: %w", o.describe(), err)
	}
	e := pipeline.New(db, pipeline.Config{Handlers: handlers, Logger: logger})
	if err := solution.Activate(ctx, e); err != nil {
		_ = db.Close()
		return nil, nil, fmt.Errorf("open %s: %w", o.describe(), err)
	}
	return e, db, nil
}
