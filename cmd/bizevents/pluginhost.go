package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/engine/tracelog"
	"github.com/bizevents/bizevents/plugins"
)

// pluginOptions configure the plugin runtime of serve; zero fields take
// package plugins' defaults.
type pluginOptions struct {
	// CacheDir keeps compiled modules across starts. Default
	// plugins.DefaultCacheDir().
	CacheDir string
	// PoolSize is the idle instances kept per module; PreWarm how many are
	// made at load.
	PoolSize, PreWarm int
	// MemoryMiB caps each instance's memory.
	MemoryMiB int
	// SyncTimeout and AsyncTimeout are the deadlines of one call.
	SyncTimeout, AsyncTimeout time.Duration
}

func (o *pluginOptions) register(fs *flag.FlagSet) {
	fs.StringVar(&o.CacheDir, "plugin-cache", plugins.DefaultCacheDir(), "`dir` of the plugin compilation cache")
	fs.IntVar(&o.PoolSize, "plugin-pool", plugins.DefaultPoolSize, "idle instances kept per plugin module")
	fs.IntVar(&o.PreWarm, "plugin-prewarm", 1, "instances made per plugin module when it loads")
	fs.IntVar(&o.MemoryMiB, "plugin-memory", plugins.DefaultMemoryLimitPages/16, "memory cap of a plugin instance, in `MiB`")
	fs.DurationVar(&o.SyncTimeout, "plugin-sync-timeout", plugins.DefaultSyncTimeout, "deadline of a plugin call in a sync step")
	fs.DurationVar(&o.AsyncTimeout, "plugin-async-timeout", plugins.DefaultAsyncTimeout, "deadline of a plugin call in an async step")
}

func (o pluginOptions) config() (plugins.Config, error) {
	if o.MemoryMiB < 0 || o.MemoryMiB > 4096 {
		return plugins.Config{}, usagef("--plugin-memory %d must be between 1 and 4096 MiB", o.MemoryMiB)
	}
	return plugins.Config{
		CacheDir: o.CacheDir, PoolSize: o.PoolSize, PreWarm: min(o.PreWarm, max(o.PoolSize, plugins.DefaultPoolSize)),
		MemoryLimitPages: uint32(o.MemoryMiB * 16), SyncTimeout: o.SyncTimeout, AsyncTimeout: o.AsyncTimeout,
	}, nil
}

// pluginHost runs the plugin modules of a serving engine: the runtime, the
// registry the engine finds its handlers in, and the trace log writer.
type pluginHost struct {
	rt     *plugins.Runtime
	reg    *plugins.Registry
	traces *tracelog.Writer
	// engine finds table definitions for the RetrieveMultiple filters of
	// plugins; set once the engine exists.
	engine atomic.Pointer[pipeline.Engine]

	closeOnce sync.Once
	closeErr  error
}

var _ solution.PluginHost = (*plugins.Registry)(nil)

func newPluginHost(ctx context.Context, o pluginOptions, db storage.DB, logger *slog.Logger) (*pluginHost, error) {
	cfg, err := o.config()
	if err != nil {
		return nil, err
	}
	h := &pluginHost{traces: tracelog.NewWriter(db, tracelog.Config{Logger: logger})}
	cfg.TraceSink = h.traces
	cfg.Logger = logger
	cfg.Tables = func(name string) (*tables.Table, bool) {
		e := h.engine.Load()
		if e == nil {
			return nil, false
		}
		return e.Definitions().Table(name)
	}
	if h.rt, err = plugins.New(ctx, cfg); err != nil {
		_ = h.traces.Close(ctx)
		return nil, err
	}
	h.reg = plugins.NewRegistry(h.rt)
	return h, nil
}

// Close waits for the plugin calls in flight (or ctx), stores the traces
// queued and closes the runtime. Calls after the first do nothing.
func (h *pluginHost) Close(ctx context.Context) error {
	h.closeOnce.Do(func() { h.closeErr = errors.Join(h.reg.Close(ctx), h.traces.Close(ctx), h.rt.Close(ctx)) })
	return h.closeErr
}

// checkPlugins loads each plugin module of a solution into a scratch
// runtime, so that an import refuses a module the host would refuse,
// with the host's reasons. It warms the compilation cache as it goes.
func checkPlugins(ctx context.Context, s *solution.Solution) error {
	if len(s.Plugins) == 0 {
		return nil
	}
	rt, err := plugins.New(ctx, plugins.Config{CacheDir: plugins.DefaultCacheDir()})
	if err != nil {
		return err
	}
	defer rt.Close(ctx)
	var errs []error
	for _, p := range s.Plugins {
		m, err := rt.Load(ctx, p.Name, p.Wasm)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin %s (%s): %w", p.Name, p.File, err))
			continue
		}
		_ = m.Close(ctx)
	}
	return errors.Join(errs...)
}
