package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/internal/wake"
)

// Log attribute keys.
const (
	logKeyComponent     = "component"
	logKeyPath          = "path"
	logKeySchemaVersion = "schema_version"
	logKeyHead          = "head"
	logKeyErr           = "err"
	logKeyDelay         = "delay"
	logKeyFrom          = "from"
	logKeyTo            = "to"
)

// Store is an event log in a SQLite file. It is safe for concurrent use.
type Store struct {
	cfg Config
	log *slog.Logger
	// w has one connection; every write and every transaction goes
	// through it. r is the reader pool.
	w, r  *sql.DB
	stmts writerStmts

	closed atomic.Bool
	done   chan struct{} // closed by Close

	// calls hands Append calls to the committer (commitLoop), which closes
	// loopDone when it stops. Unbuffered: a call is either taken, and then
	// answered, or refused because the store closed.
	calls    chan *appendCall
	loopDone chan struct{}

	// committed is the last position committed through this store, or found
	// when it opened; it wakes Wait.
	committed wake.Head
}

var _ eventlog.Store = (*Store)(nil)

// writerStmts are the append path's statements, prepared once on the writer
// connection.
type writerStmts struct {
	streamVersion, streamVersions, head, insert *sql.Stmt
}

// Open opens the log in cfg.Path, creating the file and its directory when
// missing, and brings its schema up to date. Several stores, also in several
// processes, may open the same file at once.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	fail := func(what string, err error) error {
		return fmt.Errorf("sqlite: open %s: %s: %w", cfg.Path, what, err)
	}
	if fi, err := os.Stat(cfg.Path); err == nil && fi.IsDir() {
		return nil, fail("check path", errors.New("is a directory, want a database file"))
	}
	if err := os.MkdirAll(filepath.Dir(cfg.Path), 0o750); err != nil {
		return nil, fail("create directory", err)
	}
	wdsn, err := dsn(cfg.Path, cfg.Synchronous, false)
	if err != nil {
		return nil, fail("resolve path", err)
	}
	rdsn, err := dsn(cfg.Path, cfg.Synchronous, true)
	if err != nil {
		return nil, fail("resolve path", err)
	}
	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, fail("open writer", err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	log := cfg.Logger.With(logKeyComponent, "eventlog.sqlite")
	from, to, err := migrateRetrying(ctx, w, log)
	if err != nil {
		_ = w.Close()
		return nil, fail("migrate", err)
	}
	r, err := sql.Open("sqlite", rdsn)
	if err != nil {
		_ = w.Close()
		return nil, fail("open readers", err)
	}
	r.SetMaxOpenConns(readers())
	r.SetMaxIdleConns(readers())

	s := &Store{
		cfg:      cfg,
		log:      log,
		w:        w,
		r:        r,
		done:     make(chan struct{}),
		calls:    make(chan *appendCall),
		loopDone: make(chan struct{}),
	}
	go s.commitLoop()
	if err := s.prepare(ctx); err != nil {
		_ = s.Close()
		return nil, fail("prepare statements", err)
	}
	head, _, err := s.head(ctx)
	if err != nil {
		_ = s.Close()
		return nil, fail("read head", err)
	}
	s.committed.Advance(head)
	s.log.InfoContext(ctx, "event log opened", logKeyPath, cfg.Path, logKeySchemaVersion, to, logKeyHead, head)
	if from != to {
		s.log.InfoContext(ctx, "event log schema migrated", logKeyPath, cfg.Path, logKeyFrom, from, logKeyTo, to)
	}
	return s, nil
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		stmt  **sql.Stmt
		query string
	}{
		{&s.stmts.streamVersion, `SELECT stream_version FROM events WHERE stream_id = ? ORDER BY stream_version DESC LIMIT 1`},
		{&s.stmts.streamVersions, `SELECT s.value, coalesce((SELECT stream_version FROM events WHERE stream_id = s.value
			ORDER BY stream_version DESC LIMIT 1), 0) FROM json_each(?) AS s`},
		{&s.stmts.head, `SELECT position, hash FROM events ORDER BY position DESC LIMIT 1`},
		{&s.stmts.insert, `INSERT INTO events (` + eventColumns + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
	} {
		st, err := s.w.PrepareContext(ctx, p.query)
		if err != nil {
			return err
		}
		*p.stmt = st
	}
	return nil
}

// Close closes the store: it waits for the appends being committed, then
// waiting calls return and later calls fail with an error matching
// [eventlog.ErrClosed]. A transaction still open can only roll back. Closing
// twice is fine.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.done)
	<-s.loopDone // the group being committed, if any, is answered
	var errs []error
	for _, st := range []*sql.Stmt{s.stmts.streamVersion, s.stmts.streamVersions, s.stmts.head, s.stmts.insert} {
		if st != nil {
			errs = append(errs, st.Close())
		}
	}
	errs = append(errs, s.w.Close(), s.r.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sqlite: close %s: %w", s.cfg.Path, err)
	}
	s.log.Info("event log closed", logKeyPath, s.cfg.Path)
	return nil
}

// Append appends req's events and returns them as stored, sealed: with
// position, version, time and hash. Appends made concurrently are committed
// together, in one transaction and one sync, each one atomic on its own: a
// failed one (a version conflict) is undone alone. After ctx is done an
// Append already handed to the committer may still commit; it returns once
// the outcome is known.
func (s *Store) Append(ctx context.Context, req eventlog.AppendRequest) ([]eventlog.Event, error) {
	if s.closed.Load() {
		return nil, errClosed("append")
	}
	p, err := s.cfg.PrepareAppend(req)
	if err != nil {
		return nil, err
	}
	c := &appendCall{ctx: ctx, p: p, content: contentHashes(p), done: make(chan error, 1)}
	select {
	case s.calls <- c:
	case <-ctx.Done():
		return nil, s.wrap(ctx, "append", ctx.Err())
	case <-s.done:
		return nil, errClosed("append")
	}
	// Once taken, a call is always answered, also when the store closes:
	// wait for the outcome, which may be a commit.
	if err := <-c.done; err != nil {
		return nil, err
	}
	return p.Events, nil
}

// Begin starts a write transaction. It holds the store's only writer
// connection until Commit or Rollback: every other write (Append, SetOffset,
// another Begin) waits for it. So the goroutine holding a Tx must not make
// them: it would wait for itself, until its ctx ends (then failing with
// ctx's error) or the store closes. This is not detected; see
// [eventlog.Store], "One writer at a time".
func (s *Store) Begin(ctx context.Context) (eventlog.Tx, error) {
	if s.closed.Load() {
		return nil, errClosed("begin")
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return nil, s.wrap(ctx, "begin", err)
	}
	return &Tx{s: s, tx: tx, w: s.newTxWriter(tx)}, nil
}

// Wait returns nil at once when this store committed events past after,
// else when it commits some, after the poll interval, with ctx's error when
// ctx is done, or with an error matching [eventlog.ErrClosed] when the store
// closes. Appends made through another store on the same file are noticed at
// the poll interval only.
func (s *Store) Wait(ctx context.Context, after int64) error {
	if s.closed.Load() {
		return errClosed("wait")
	}
	return s.committed.Wait(ctx, after, s.cfg.PollInterval, s.done, errClosed("wait"))
}

// eventColumns are the events table's columns in the order scanEvents and
// the insert use.
const eventColumns = `position, event_id, stream_id, stream_version, type, data, user_id, initiating_user_id, ` +
	`correlation_id, request_id, causation_id, depth, solution, recorded_at, hash`

// Read returns events after q.After in position order, filtered.
func (s *Store) Read(ctx context.Context, q eventlog.ReadQuery) ([]eventlog.Event, error) {
	if s.closed.Load() {
		return nil, errClosed("read")
	}
	if err := s.cfg.CheckRead(&q); err != nil {
		return nil, err
	}
	var b strings.Builder
	args := make([]any, 0, 6+len(q.Types))
	b.WriteString(`SELECT ` + eventColumns + ` FROM events WHERE position > ?`)
	args = append(args, q.After)
	if q.StreamID != "" {
		b.WriteString(` AND stream_id = ?`)
		args = append(args, q.StreamID)
	}
	if len(q.Types) > 0 {
		b.WriteString(` AND type IN (?` + strings.Repeat(`, ?`, len(q.Types)-1) + `)`)
		for _, t := range q.Types {
			args = append(args, t)
		}
	}
	// CheckRead rounded the bounds up to whole microseconds, as times are
	// stored.
	if !q.Since.IsZero() {
		b.WriteString(` AND recorded_at >= ?`)
		args = append(args, q.Since.UnixMicro())
	}
	if !q.Until.IsZero() {
		b.WriteString(` AND recorded_at < ?`)
		args = append(args, q.Until.UnixMicro())
	}
	if q.CorrelationID != "" {
		b.WriteString(` AND correlation_id = ?`)
		args = append(args, q.CorrelationID)
	}
	b.WriteString(` ORDER BY position LIMIT ?`)
	args = append(args, q.Limit)

	evs, err := s.query(ctx, q.Limit, b.String(), args...)
	if err != nil {
		return nil, s.wrap(ctx, fmt.Sprintf("read after %d", q.After), err)
	}
	if len(evs) == 0 && q.After > 0 {
		head, _, err := s.head(ctx)
		if err != nil {
			return nil, s.wrap(ctx, "read: head", err)
		}
		if q.After > head {
			return nil, eventlog.Errorf(eventlog.ErrUnknownPosition, "position %d is past the end of the log (%d)", q.After, head)
		}
	}
	return evs, nil
}

// ReadStream returns a stream's events from q.FromVersion in version
// order, or down from it when q.Backward.
func (s *Store) ReadStream(ctx context.Context, q eventlog.StreamQuery) ([]eventlog.Event, error) {
	if s.closed.Load() {
		return nil, errClosed("read stream")
	}
	if err := s.cfg.CheckStream(&q); err != nil {
		return nil, err
	}
	if q.Backward {
		return eventlog.ReadStreamBackward(q, func(upTo int64) ([]eventlog.Event, error) {
			evs, err := s.query(ctx, q.Limit, `SELECT `+eventColumns+` FROM events WHERE stream_id = ? AND stream_version <= ? ORDER BY stream_version DESC LIMIT ?`,
				q.StreamID, upTo, q.Limit)
			if err != nil {
				return nil, s.wrap(ctx, "read stream "+q.StreamID+" backward", err)
			}
			return evs, nil
		})
	}
	evs, err := s.query(ctx, q.Limit, `SELECT `+eventColumns+` FROM events WHERE stream_id = ? AND stream_version >= ? ORDER BY stream_version LIMIT ?`,
		q.StreamID, q.FromVersion, q.Limit)
	if err != nil {
		return nil, s.wrap(ctx, "read stream "+q.StreamID, err)
	}
	if len(evs) > 0 {
		return evs, nil
	}
	var last sql.NullInt64
	if err := s.r.QueryRowContext(ctx, `SELECT max(stream_version) FROM events WHERE stream_id = ?`, q.StreamID).Scan(&last); err != nil {
		return nil, s.wrap(ctx, "read stream "+q.StreamID, err)
	}
	switch {
	case !last.Valid:
		return nil, eventlog.Errorf(eventlog.ErrStreamNotFound, "stream %q has no events", q.StreamID)
	case q.FromVersion > last.Int64+1:
		return nil, eventlog.Errorf(eventlog.ErrUnknownPosition, "version %d is past the end of stream %q (%d)", q.FromVersion, q.StreamID, last.Int64)
	}
	return evs, nil
}

// query runs a select of eventColumns on the reader pool.
func (s *Store) query(ctx context.Context, capHint int, query string, args ...any) ([]eventlog.Event, error) {
	rows, err := s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var evs []eventlog.Event
	for rows.Next() {
		if evs == nil {
			evs = make([]eventlog.Event, 0, min(capHint, 256))
		}
		var (
			e  eventlog.Event
			m  = &e.Metadata
			at int64
		)
		if err := rows.Scan(&e.Position, &e.ID, &e.StreamID, &e.StreamVersion, &e.Type, (*[]byte)(&e.Data),
			&m.UserID, &m.InitiatingUserID, &m.CorrelationID, &m.RequestID, &m.CausationID, &m.Depth, &m.Solution,
			&at, &e.Hash); err != nil {
			return nil, err
		}
		m.Time = time.UnixMicro(at).UTC()
		evs = append(evs, e)
	}
	return evs, rows.Err()
}

// Head returns the last position and its hash. Every event is sealed when
// it commits, so Unsealed is 0.
func (s *Store) Head(ctx context.Context) (eventlog.Head, error) {
	if s.closed.Load() {
		return eventlog.Head{}, errClosed("head")
	}
	pos, hash, err := s.head(ctx)
	if err != nil {
		return eventlog.Head{}, s.wrap(ctx, "head", err)
	}
	return eventlog.Head{Position: pos, Hash: hash}, nil
}

func (s *Store) head(ctx context.Context) (int64, []byte, error) {
	var (
		pos  int64
		hash []byte
	)
	err := s.r.QueryRowContext(ctx, `SELECT position, hash FROM events ORDER BY position DESC LIMIT 1`).Scan(&pos, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil, nil
	}
	return pos, hash, err
}

// Offset returns the position subscriber stored, and false when it has none.
func (s *Store) Offset(ctx context.Context, subscriber string) (int64, bool, error) {
	if s.closed.Load() {
		return 0, false, errClosed("offset")
	}
	if err := eventlog.CheckSubscriber(subscriber); err != nil {
		return 0, false, err
	}
	var pos int64
	err := s.r.QueryRowContext(ctx, `SELECT position FROM offsets WHERE subscriber = ?`, subscriber).Scan(&pos)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, s.wrap(ctx, "offset of "+subscriber, err)
	}
	return pos, true, nil
}

// SetOffset stores subscriber's position, replacing the one it had.
func (s *Store) SetOffset(ctx context.Context, subscriber string, position int64) error {
	if s.closed.Load() {
		return errClosed("set offset")
	}
	if err := eventlog.CheckOffset(subscriber, position); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO offsets (subscriber, position, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (subscriber) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
		subscriber, position, bookkeepingTime())
	return s.wrap(ctx, "set offset of "+subscriber, err)
}

// bookkeepingTime is the time recorded in the offsets and migrations tables,
// in unix microseconds.
//
// Why not Config.Now: Now stamps events, and tests pin it to a clock that
// moves on every call; a call for bookkeeping would shift the events' times.
func bookkeepingTime() int64 { return time.Now().UnixMicro() }
