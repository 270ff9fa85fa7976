package plugins

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/bizevents/bizevents/engine/tables"
)

// Defaults for [Config].
const (
	// DefaultPoolSize is how many idle instances of a module are kept.
	DefaultPoolSize = 4
	// DefaultMemoryLimitPages caps an instance's memory: 1024 pages of
	// 64 KiB, 64 MiB.
	DefaultMemoryLimitPages = 1024
	// DefaultSyncTimeout is a sync step's or main operation's deadline.
	DefaultSyncTimeout = 2 * time.Second
	// DefaultAsyncTimeout is an async step's deadline.
	DefaultAsyncTimeout = 30 * time.Second
	// DefaultMaxHostCalls is how many host functions one call may call.
	DefaultMaxHostCalls = 100_000
	// DefaultMaxTraceLines and DefaultMaxTraceBytes cap what one call keeps
	// of its trace (trace lines, stdout and stderr together).
	DefaultMaxTraceLines = 1000
	DefaultMaxTraceBytes = 64 << 10
	// DefaultMaxValueSize bounds a value, a request or a result crossing
	// the boundary.
	DefaultMaxValueSize = 4 << 20
)

// maxLineBytes truncates a single trace line; maxFailBytes a fail message.
const (
	maxLineBytes = 4 << 10
	maxFailBytes = 4 << 10
)

// Config configures a [Runtime]. The zero value is usable: every field
// has a documented default.
type Config struct {
	// CacheDir keeps compiled modules on disk, so that a module is compiled
	// once per version and wazero version, not per process start. Default
	// [DefaultCacheDir].
	CacheDir string
	// NoCompilationCache compiles every module afresh in each process.
	NoCompilationCache bool
	// PoolSize is how many instances of a module serve calls at once,
	// and how many idle ones are kept for reuse. A call that finds them
	// all busy waits for one, within its deadline, rather than make an
	// instance (5-6 ms and 2-4 MiB) it would throw away after. A nested
	// call, one that a plugin's execute runs on the same module again,
	// never waits (it would wait on its own caller): it gets a fresh
	// instance when none is idle. Default [DefaultPoolSize].
	PoolSize int
	// PreWarm is how many instances Load creates ahead of the first call,
	// at most PoolSize. Default 0.
	PreWarm int
	// MemoryLimitPages caps each instance's linear memory, in 64 KiB
	// pages. Default [DefaultMemoryLimitPages] (64 MiB).
	MemoryLimitPages uint32
	// SyncTimeout is the deadline of a call in a sync step or a main
	// operation; AsyncTimeout of a call in an async step. Defaults
	// [DefaultSyncTimeout] and [DefaultAsyncTimeout].
	SyncTimeout, AsyncTimeout time.Duration
	// MaxHostCalls is how many host functions one call may call before it
	// is stopped. Default [DefaultMaxHostCalls].
	MaxHostCalls int
	// MaxTraceLines and MaxTraceBytes cap the trace kept per call; what is
	// beyond is counted and dropped. Defaults [DefaultMaxTraceLines] and
	// [DefaultMaxTraceBytes].
	MaxTraceLines, MaxTraceBytes int
	// MaxValueSize bounds a value set, a request executed and a result
	// read, in bytes. Default [DefaultMaxValueSize].
	MaxValueSize int
	// Tables finds table definitions, to parse the OData filter and order
	// of a RetrieveMultiple a plugin executes. Without it such a filter is
	// not_supported.
	Tables func(name string) (*tables.Table, bool)
	// TraceSink receives the trace of every call that wrote a line or
	// failed. Default: none.
	TraceSink TraceSink
	Logger    *slog.Logger
}

// DefaultCacheDir returns the default compilation cache directory:
// bizevents/wasm in the user's cache directory, or in the temporary
// directory when the user has none.
func DefaultCacheDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "bizevents", "wasm")
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.CacheDir == "" && !c.NoCompilationCache {
		c.CacheDir = DefaultCacheDir()
	}
	if c.PoolSize == 0 {
		c.PoolSize = DefaultPoolSize
	}
	if c.MemoryLimitPages == 0 {
		c.MemoryLimitPages = DefaultMemoryLimitPages
	}
	if c.SyncTimeout == 0 {
		c.SyncTimeout = DefaultSyncTimeout
	}
	if c.AsyncTimeout == 0 {
		c.AsyncTimeout = DefaultAsyncTimeout
	}
	if c.MaxHostCalls == 0 {
		c.MaxHostCalls = DefaultMaxHostCalls
	}
	if c.MaxTraceLines == 0 {
		c.MaxTraceLines = DefaultMaxTraceLines
	}
	if c.MaxTraceBytes == 0 {
		c.MaxTraceBytes = DefaultMaxTraceBytes
	}
	if c.MaxValueSize == 0 {
		c.MaxValueSize = DefaultMaxValueSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of a defaulted configuration.
func (c Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("plugins config: "+format, args...)) }
	if c.PoolSize < 0 {
		bad("pool size %d must not be negative", c.PoolSize)
	}
	if c.PreWarm < 0 || c.PreWarm > c.PoolSize {
		bad("pre-warm %d must be between 0 and the pool size %d", c.PreWarm, c.PoolSize)
	}
	if c.MemoryLimitPages > 65536 {
		bad("memory limit %d pages is above wasm32's 65536 (4 GiB)", c.MemoryLimitPages)
	}
	if c.SyncTimeout < 0 || c.AsyncTimeout < 0 {
		bad("timeouts must not be negative")
	}
	if c.MaxHostCalls < 0 || c.MaxTraceLines < 0 || c.MaxTraceBytes < 0 || c.MaxValueSize < 0 {
		bad("limits must not be negative")
	}
	return errors.Join(errs...)
}
