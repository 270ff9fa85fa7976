// Package tracelog is the plugin trace log, Dataverse's PluginTraceLog:
// what each plugin call wrote (trace lines, stdout and stderr) and how it
// ended, kept in the engine's database and queryable by step, module,
// correlation id and time.
//
// A [Writer] is the plugin runtime's TraceSink. It never blocks a plugin
// call and never writes in the message's transaction: a sync step that
// fails rolls its message back, and its trace is exactly what must be
// kept. So WriteTrace queues the trace, and a goroutine stores the queue
// in batches, one transaction per batch. When the queue is full a trace
// is dropped and counted, rather than slowing the pipeline down.
package tracelog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/plugins"
)

// Migrations create the trace log's table.
var Migrations = []storage.Migration{{
	Component: "tracelog", Version: 1,
	Postgres: `CREATE TABLE plugin_traces (
		id BIGSERIAL PRIMARY KEY,
		module TEXT NOT NULL, hash TEXT NOT NULL, handler TEXT NOT NULL, step TEXT NOT NULL,
		message TEXT NOT NULL, table_name TEXT NOT NULL, stage INTEGER NOT NULL, mode TEXT NOT NULL, depth INTEGER NOT NULL,
		correlation_id TEXT NOT NULL, request_id TEXT NOT NULL,
		operation_time BIGINT NOT NULL, start_time BIGINT NOT NULL, duration_us BIGINT NOT NULL,
		lines TEXT NOT NULL, dropped INTEGER NOT NULL, error_code TEXT NOT NULL, error TEXT NOT NULL
	);
	CREATE INDEX plugin_traces_step ON plugin_traces (step, start_time);
	CREATE INDEX plugin_traces_correlation ON plugin_traces (correlation_id);
	CREATE INDEX plugin_traces_start ON plugin_traces (start_time)`,
	SQLite: `CREATE TABLE plugin_traces (
		id INTEGER PRIMARY KEY AUTOINCREMENT,
		module TEXT NOT NULL, hash TEXT NOT NULL, handler TEXT NOT NULL, step TEXT NOT NULL,
		message TEXT NOT NULL, table_name TEXT NOT NULL, stage INTEGER NOT NULL, mode TEXT NOT NULL, depth INTEGER NOT NULL,
		correlation_id TEXT NOT NULL, request_id TEXT NOT NULL,
		operation_time BIGINT NOT NULL, start_time BIGINT NOT NULL, duration_us BIGINT NOT NULL,
		lines TEXT NOT NULL, dropped INTEGER NOT NULL, error_code TEXT NOT NULL, error TEXT NOT NULL
	);
	CREATE INDEX plugin_traces_step ON plugin_traces (step, start_time);
	CREATE INDEX plugin_traces_correlation ON plugin_traces (correlation_id);
	CREATE INDEX plugin_traces_start ON plugin_traces (start_time)`,
}}

// Record is one stored trace.
type Record struct {
	// ID orders the records as they were stored.
	ID      int64  `json:"id"`
	Module  string `json:"module"`
	Hash    string `json:"hash"`
	Handler string `json:"handler"`
	// Step is the step's name; empty for a custom API's main operation.
	Step          string    `json:"step,omitempty"`
	Message       string    `json:"message"`
	Table         string    `json:"table,omitempty"`
	Stage         int       `json:"stage"`
	Mode          string    `json:"mode"`
	Depth         int       `json:"depth"`
	CorrelationID string    `json:"correlationId,omitempty"`
	RequestID     string    `json:"requestId,omitempty"`
	OperationTime time.Time `json:"operationTime"`
	// Start is when the call started, on the host's clock; Duration how
	// long it took.
	Start    time.Time     `json:"start"`
	Duration time.Duration `json:"durationUs"`
	Lines    []string      `json:"lines"`
	// Dropped counts the lines beyond the runtime's caps.
	Dropped int `json:"dropped,omitempty"`
	// ErrorCode and Error say how the call failed; empty when it did not.
	ErrorCode string `json:"errorCode,omitempty"`
	Error     string `json:"error,omitempty"`
}

// MarshalJSON writes Duration in microseconds.
func (r Record) MarshalJSON() ([]byte, error) {
	type plain Record
	return json.Marshal(struct {
		plain
		Duration int64 `json:"durationUs"`
	}{plain(r), r.Duration.Microseconds()})
}

// Defaults for [Config].
const (
	DefaultQueueSize     = 4096
	DefaultBatchSize     = 256
	DefaultFlushInterval = 100 * time.Millisecond
	// MaxErrorBytes truncates a stored error message.
	MaxErrorBytes = 8 << 10
)

// Config configures a [Writer].
type Config struct {
	// QueueSize is how many traces wait to be stored before new ones are
	// dropped. Default [DefaultQueueSize].
	QueueSize int
	// BatchSize is how many traces one transaction stores at most.
	// Default [DefaultBatchSize].
	BatchSize int
	// FlushInterval is how long a trace may wait for a batch to fill.
	// Default [DefaultFlushInterval].
	FlushInterval time.Duration
	Logger        *slog.Logger
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.QueueSize <= 0 {
		c.QueueSize = DefaultQueueSize
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Writer stores plugin traces in the trace log; it is a plugins.TraceSink.
// It is safe for concurrent use. Close stores what is queued and stops it.
type Writer struct {
	db    storage.DB
	cfg   Config
	log   *slog.Logger
	queue chan item
	done  chan struct{}

	closeOnce sync.Once
	closed    atomic.Bool
	dropped   atomic.Int64
	stored    atomic.Int64
}

// item is a queued trace, or a flush request (ack set).
type item struct {
	rec Record
	ack chan struct{}
}

var _ plugins.TraceSink = (*Writer)(nil)

// NewWriter starts a writer storing into db, whose migrations must include
// [Migrations].
func NewWriter(db storage.DB, cfg Config) *Writer {
	cfg = cfg.WithDefaults()
	w := &Writer{db: db, cfg: cfg, log: cfg.Logger.With("component", "tracelog"),
		queue: make(chan item, cfg.QueueSize), done: make(chan struct{})}
	go w.run()
	return w
}

// WriteTrace queues a trace to be stored; when the queue is full it is
// dropped and counted (see [Writer.Dropped]).
func (w *Writer) WriteTrace(_ context.Context, t plugins.Trace) {
	if w.closed.Load() {
		w.dropped.Add(1)
		return
	}
	select {
	case w.queue <- item{rec: recordOf(t)}:
	default:
		if w.dropped.Add(1) == 1 {
			w.log.Warn("trace log queue is full: dropping traces", "queue", w.cfg.QueueSize)
		}
	}
}

// Dropped returns how many traces were dropped because the queue was full
// or the writer closed.
func (w *Writer) Dropped() int64 { return w.dropped.Load() }

// Stored returns how many traces were stored.
func (w *Writer) Stored() int64 { return w.stored.Load() }

// Flush waits until every trace queued before it is stored, or ctx is done.
func (w *Writer) Flush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case w.queue <- item{ack: ack}:
	case <-w.done:
		return errors.New("tracelog: writer is closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stores what is queued, waiting at most until ctx is done, and
// stops the writer. Traces written after Close are dropped.
func (w *Writer) Close(ctx context.Context) error {
	err := w.Flush(ctx)
	w.closeOnce.Do(func() {
		w.closed.Store(true)
		close(w.queue)
	})
	select {
	case <-w.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	return err
}

func (w *Writer) run() {
	defer close(w.done)
	batch := make([]Record, 0, w.cfg.BatchSize)
	var acks []chan struct{}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	flush := func() {
		if len(batch) > 0 {
			if err := w.store(batch); err != nil {
				w.log.Warn("store plugin traces", "count", len(batch), "err", err)
			} else {
				w.stored.Add(int64(len(batch)))
			}
		}
		for _, a := range acks {
			close(a)
		}
		batch, acks = batch[:0], acks[:0]
	}
	for {
		select {
		case it, ok := <-w.queue:
			if !ok {
				flush()
				return
			}
			if it.ack != nil {
				acks = append(acks, it.ack)
				flush()
				continue
			}
			if len(batch) == 0 {
				timer.Reset(w.cfg.FlushInterval)
			}
			batch = append(batch, it.rec)
			if len(batch) >= w.cfg.BatchSize {
				timer.Stop()
				flush()
			}
		case <-timer.C:
			flush()
		}
	}
}

const insertTrace = `INSERT INTO plugin_traces (module, hash, handler, step, message, table_name, stage, mode, depth,
	correlation_id, request_id, operation_time, start_time, duration_us, lines, dropped, error_code, error)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (w *Writer) store(batch []Record) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return storage.Run(ctx, w.db, func(tx storage.Tx) error {
		for _, r := range batch {
			lines, err := json.Marshal(r.Lines)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, insertTrace, r.Module, r.Hash, r.Handler, r.Step, r.Message, r.Table, r.Stage, r.Mode, r.Depth,
				r.CorrelationID, r.RequestID, micros(r.OperationTime), micros(r.Start), r.Duration.Microseconds(),
				string(lines), r.Dropped, r.ErrorCode, r.Error); err != nil {
				return fmt.Errorf("insert trace of %s/%s: %w", r.Module, r.Handler, err)
			}
		}
		return nil
	})
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return storage.Micros(t)
}

func recordOf(t plugins.Trace) Record {
	r := Record{Module: t.Module, Hash: t.Hash, Handler: t.Handler, Step: t.Step, Message: t.Message, Table: t.Table,
		Stage: int(t.Stage), Mode: string(t.Mode), Depth: t.Depth, CorrelationID: idString(t.CorrelationID),
		RequestID: idString(t.RequestID), OperationTime: t.OperationTime, Start: t.Start, Duration: t.Duration,
		Lines: t.Lines, Dropped: t.Dropped}
	if r.Lines == nil {
		r.Lines = []string{}
	}
	if t.Err != nil {
		r.ErrorCode = string(errcode.Of(t.Err))
		r.Error = t.Err.Error()
		if len(r.Error) > MaxErrorBytes {
			r.Error = strings.ToValidUTF8(r.Error[:MaxErrorBytes], "") + "…"
		}
	}
	return r
}

func idString(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}
