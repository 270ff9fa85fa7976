package sqlite

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// Values of [Config.Synchronous].
const (
	// SynchronousFull makes every commit durable, also on power loss: the
	// write-ahead log is synced on every commit.
	SynchronousFull = "FULL"
	// SynchronousNormal syncs the write-ahead log only at checkpoints: a
	// commit survives a crash of the process but may be lost on power loss.
	// The database is never corrupted either way.
	SynchronousNormal = "NORMAL"
)

// Defaults for [Config].
const (
	// DefaultSynchronous is the default [Config.Synchronous].
	DefaultSynchronous = SynchronousFull
	// BusyTimeout is how long a connection waits for SQLite's file lock
	// held by another process before failing with SQLITE_BUSY.
	BusyTimeout = 10 * time.Second
)

// maxReaders caps the reader pool.
const maxReaders = 8

// Config configures [Open].
type Config struct {
	eventlog.Config
	// Path of the database file (required). Created with its directory if
	// missing.
	Path string
	// Synchronous is SQLite's synchronous pragma: [SynchronousFull]
	// (default, durable on power loss) or [SynchronousNormal].
	Synchronous string
	// Logger receives the store's logs. Default: logs are discarded.
	Logger *slog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	c.Config = c.Config.WithDefaults()
	if c.Synchronous == "" {
		c.Synchronous = DefaultSynchronous
	}
	c.Synchronous = strings.ToUpper(c.Synchronous)
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Validate reports every problem of a configuration that cannot work, as one
// joined error. Call it on the result of [Config.WithDefaults].
func (c Config) Validate() error {
	var errs []error
	if err := c.Config.Validate(); err != nil {
		errs = append(errs, err)
	}
	if c.Path == "" {
		errs = append(errs, errors.New("sqlite config: Path is empty, want the database file's path"))
	}
	switch strings.ToUpper(c.Synchronous) {
	case SynchronousFull, SynchronousNormal:
	default:
		errs = append(errs, fmt.Errorf("sqlite config: Synchronous %q is not %s or %s", c.Synchronous, SynchronousFull, SynchronousNormal))
	}
	return errors.Join(errs...)
}

// dsn returns the driver's data source name for the file at path: a URI, so
// that any character in the path is escaped, with the pragmas every
// connection runs when it opens. readOnly connections refuse writes.
func dsn(path, synchronous string, readOnly bool) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	q := url.Values{}
	q.Add("_pragma", fmt.Sprintf("busy_timeout(%d)", BusyTimeout.Milliseconds()))
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous("+synchronous+")")
	q.Add("_pragma", "foreign_keys(on)")
	if readOnly {
		q.Add("_pragma", "query_only(1)")
	} else {
		// BEGIN IMMEDIATE: take the write lock when the transaction starts,
		// not at its first write, so a transaction that read first never
		// fails to upgrade its lock.
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(abs), RawQuery: q.Encode()}
	return u.String(), nil
}

// readers is the size of the reader pool.
func readers() int { return min(max(runtime.GOMAXPROCS(0), 2), maxReaders) }
