package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/engine/tracelog"
)

// migrations are the engine's tables, in the order they are made.
func migrations() []storage.Migration {
	var ms []storage.Migration
	ms = append(ms, tables.Migrations...)
	ms = append(ms, solution.Migrations...)
	ms = append(ms, tracelog.Migrations...)
	ms = append(ms, jobs.Migrations...)
	return ms
}

// openEngine opens the database o names with the engine's tables, and an
// engine on it with the imported solutions active: their plugin modules
// loaded into host, when it is not nil. Close the database when done.
func openEngine(ctx context.Context, o dbOptions, logger *slog.Logger, handlers pipeline.Handlers, host solution.PluginHost) (*pipeline.Engine, storage.DB, error) {
	db, err := openEngineDB(ctx, o, logger)
	if err != nil {
		return nil, nil, err
	}
	e, err := startEngine(ctx, o, db, logger, handlers, host)
	if err != nil {
		_ = db.Close()
		return nil, nil, err
	}
	return e, db, nil
}

// openEngineDB opens the database o names, with the engine's tables.
func openEngineDB(ctx context.Context, o dbOptions, logger *slog.Logger) (storage.DB, error) {
	if o.DB == "" {
		return nil, usagef("--db is empty: want a postgres:// URL or a SQLite file path")
	}
	if !isPostgres(o.DB) && o.schemaFlag {
		return nil, usagef("--schema is for PostgreSQL, and --db %q is a SQLite file", o.DB)
	}
	opts := storage.Options{URL: o.DB, Log: eventlog.Config{MaxEventSize: o.MaxEventSize}, Logger: logger}
	if isPostgres(o.DB) {
		opts.Schema = o.Schema
	}
	db, err := storage.Open(ctx, opts, migrations()...)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", o.describe(), err)
	}
	return db, nil
}

// startEngine makes an engine on db with the imported solutions active.
func startEngine(ctx context.Context, o dbOptions, db storage.DB, logger *slog.Logger, handlers pipeline.Handlers, host solution.PluginHost) (*pipeline.Engine, error) {
	e := pipeline.New(db, pipeline.Config{Handlers: handlers, Logger: logger})
	if err := solution.Activate(ctx, e, host); err != nil {
		return nil, fmt.Errorf("open %s: %w", o.describe(), err)
	}
	return e, nil
}

// handlerChain finds a handler in each of its Handlers in turn.
type handlerChain []pipeline.Handlers

func (c handlerChain) Handler(name string) (pipeline.Handler, bool) {
	for _, hs := range c {
		if h, ok := hs.Handler(name); ok {
			return h, true
		}
	}
	return nil, false
}

// lateService is the engine, once it exists: what is made before it (the
// flows runtime, which the engine's handlers include) sends its messages
// through it.
type lateService struct {
	e atomic.Pointer[pipeline.Engine]
}

func (s *lateService) Execute(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	e := s.e.Load()
	if e == nil {
		return pipeline.Response{}, errEngineNotReady
	}
	return e.Execute(ctx, req)
}

var errEngineNotReady = errors.New("the engine is not started yet")
