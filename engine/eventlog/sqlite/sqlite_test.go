package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/eventlogtest"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	eventlogtest.Run(t, eventlogtest.Backend{
		NewLog:     func(t *testing.T) eventlogtest.Log { return &testLog{t: t, path: filepath.Join(t.TempDir(), "log.db")} },
		OneProcess: true,
	})
}

// testLog is a log in a file of its own; its stores log to t.
type testLog struct {
	t    *testing.T
	path string
}

func (l *testLog) Open(ctx context.Context, cfg eventlog.Config) (eventlog.Store, error) {
	s, err := Open(ctx, Config{Config: cfg, Path: l.path, Logger: testLogger(l.t)})
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (l *testLog) Tamper(t *testing.T, position int64, data string) {
	t.Helper()
	l.exec(t, `UPDATE events SET data = ? WHERE position = ?`, data, position)
}

func (l *testLog) Remove(t *testing.T, position int64) {
	t.Helper()
	l.exec(t, `DELETE FROM events WHERE position = ?`, position)
}

// exec runs a statement that must change one row through a plain handle,
// as someone with access to the file could.
func (l *testLog) exec(t *testing.T, query string, args ...any) {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+l.path+"?_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	defer db.Close()
	res, err := db.Exec(query, args...)
	require.NoError(t, err)
	n, err := res.RowsAffected()
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
}

// open opens a store logging to the test, closed when the test ends.
func open(t testing.TB, cfg Config) *Store {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t)
	}
	s, err := Open(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}

// testLogger logs warnings and errors to t.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func newEvent(stream string, data string) eventlog.NewEvent {
	return eventlog.NewEvent{StreamID: stream, Type: "Tick", Data: json.RawMessage(data)}
}

func TestConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"defaults", Config{Path: "x.db"}, nil},
		{"normal", Config{Path: "x.db", Synchronous: "normal"}, nil},
		{"full", Config{Path: "x.db", Synchronous: SynchronousFull}, nil},
		{"no path", Config{}, []string{"Path is empty"}},
		{"bad synchronous", Config{Path: "x.db", Synchronous: "OFF"}, []string{`Synchronous "OFF"`}},
		{"every problem", Config{Synchronous: "sometimes", Config: eventlog.Config{MaxEventSize: -1}},
			[]string{"Path is empty", `Synchronous "SOMETIMES"`, "MaxEventSize -1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.cfg.WithDefaults().Validate()
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
			_, err = Open(context.Background(), tt.cfg)
			require.Error(t, err, "Open validates")
		})
	}
	d := Config{}.WithDefaults()
	require.Equal(t, SynchronousFull, d.Synchronous)
	require.NotNil(t, d.Logger)
	require.Equal(t, eventlog.DefaultPollInterval, d.PollInterval)
}

func TestOpenBadPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	require.NoError(t, os.WriteFile(file, []byte("not a database, not a directory"), 0o600))
	tests := []struct {
		name string
		path string
		want string
	}{
		{"directory", dir, "is a directory"},
		{"parent is a file", filepath.Join(file, "log.db"), "create directory"},
		{"not a database", file, "migrate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Open(context.Background(), Config{Path: tt.path})
			require.Error(t, err)
			require.ErrorContains(t, err, tt.path)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestOpenCreatesDirectoryAndEscapesPath(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	// Characters that mean something in a URI must reach the file system
	// as they are.
	path := filepath.Join(t.TempDir(), "a dir", "x?y#z%20&w.db")
	s := open(t, Config{Path: path, Synchronous: SynchronousNormal})
	_, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `1`)}})
	require.NoError(t, err)
	_, err = os.Stat(path)
	require.NoError(t, err)

	// Every connection runs the pragmas.
	for name, db := range map[string]*sql.DB{"writer": s.w, "reader": s.r} {
		pragma := func(p string) string {
			var v string
			require.NoError(t, db.QueryRowContext(ctx, `PRAGMA `+p).Scan(&v), p)
			return v
		}
		require.Equal(t, "wal", pragma("journal_mode"), name)
		require.Equal(t, "1", pragma("synchronous"), "%s: NORMAL", name)
		require.Equal(t, "10000", pragma("busy_timeout"), name)
		require.Equal(t, "1", pragma("foreign_keys"), name)
		require.Equal(t, map[string]string{"writer": "0", "reader": "1"}[name], pragma("query_only"), name)
	}
}

// TestConcurrentOpenMany: many stores opening a fresh file at once all come
// up (SQLite can refuse the switch to WAL mode at once, without waiting) and
// share one log.
func TestConcurrentOpenMany(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "log.db")
	const n = 8
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { stores[i], errs[i] = Open(ctx, Config{Path: path}) })
	}
	wg.Wait()
	for i, s := range stores {
		require.NoError(t, errs[i], "store %d", i)
		t.Cleanup(func() { require.NoError(t, s.Close()) })
	}
	for _, s := range stores {
		_, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `1`)}})
		require.NoError(t, err)
	}
	evs, err := stores[0].ReadStream(ctx, eventlog.StreamQuery{StreamID: "s"})
	require.NoError(t, err)
	require.Len(t, evs, n)
}

func TestSchemaNewerThanProgram(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log.db")
	s := open(t, Config{Path: path})
	_, err := s.w.Exec(`INSERT INTO `+migrationsTable+` (version, applied_at) VALUES (?, 0)`, len(migrations)+1)
	require.NoError(t, err)
	require.NoError(t, s.Close())
	_, err = Open(context.Background(), Config{Path: path})
	require.ErrorContains(t, err, "newer than this program knows")
}

// TestSealedOnAppend: this backend seals inside the appending transaction.
func TestSealedOnAppend(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Config{Path: filepath.Join(t.TempDir(), "log.db")})
	got, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("a", `1`), newEvent("b", `2`)}})
	require.NoError(t, err)
	require.EqualValues(t, 1, got[0].Position)
	require.EqualValues(t, 2, got[1].Position)
	require.Equal(t, eventlog.ChainHash(nil, &got[0]), got[0].Hash)
	require.Equal(t, eventlog.ChainHash(got[0].Hash, &got[1]), got[1].Hash)
	require.Equal(t, time.UTC, got[0].Metadata.Time.Location())

	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Rollback(ctx)) }()
	in, err := tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("a", `3`)}})
	require.NoError(t, err)
	require.EqualValues(t, 3, in[0].Position)
	require.Equal(t, eventlog.ChainHash(got[1].Hash, &in[0]), in[0].Hash)
	require.NoError(t, tx.Commit(ctx))

	all, err := s.Read(ctx, eventlog.ReadQuery{})
	require.NoError(t, err)
	require.Equal(t, append(got, in...), all, "stored as returned")
	head, err := s.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, eventlog.Head{Position: 3, Hash: in[0].Hash}, head)
}

// TestTxSQL: rows written through Tx.SQL commit and roll back with the
// events, and a failed Append leaves the rest of the transaction intact.
func TestTxSQL(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Config{Path: filepath.Join(t.TempDir(), "log.db")})
	_, err := s.w.ExecContext(ctx, `CREATE TABLE rows (id TEXT PRIMARY KEY)`)
	require.NoError(t, err)

	for _, commit := range []bool{false, true} {
		tx, err := s.Begin(ctx)
		require.NoError(t, err)
		stx := tx.(*Tx)
		_, err = stx.SQL().ExecContext(ctx, `INSERT INTO rows (id) VALUES (?)`, "row")
		require.NoError(t, err)
		_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("row", `1`)}})
		require.NoError(t, err)
		_, err = tx.Append(ctx, eventlog.AppendRequest{
			Events: []eventlog.NewEvent{newEvent("other", `1`), newEvent("row", `2`)},
			Expect: map[string]int64{"row": 7},
		})
		require.ErrorIs(t, err, eventlog.ErrVersionConflict)
		if commit {
			require.NoError(t, tx.Commit(ctx))
		} else {
			require.NoError(t, tx.Rollback(ctx))
		}
		var n int
		require.NoError(t, s.r.QueryRowContext(ctx, `SELECT count(*) FROM rows`).Scan(&n))
		h, err := s.Head(ctx)
		require.NoError(t, err)
		if commit {
			require.Equal(t, 1, n)
			require.EqualValues(t, 1, h.Position)
		} else {
			require.Zero(t, n)
			require.Zero(t, h.Position)
		}
	}
	_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "other"})
	require.ErrorIs(t, err, eventlog.ErrStreamNotFound)
}

// TestTxSavepointOnInsertFailure: an Append that fails after writing some
// of its events (here a stream version taken behind the store's back) leaves
// none of them in the transaction.
func TestTxSavepointOnInsertFailure(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Config{Path: filepath.Join(t.TempDir(), "log.db")})
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Rollback(ctx)) }()
	_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("kept", `1`)}})
	require.NoError(t, err)
	// A trigger fails the second insert of the next append, after the
	// first was written.
	_, err = tx.(*Tx).SQL().ExecContext(ctx, `CREATE TEMP TRIGGER fail_b BEFORE INSERT ON events
		WHEN NEW.stream_id = 'b' BEGIN SELECT RAISE(ABORT, 'boom'); END`)
	require.NoError(t, err)
	_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("a", `1`), newEvent("b", `1`)}})
	require.ErrorContains(t, err, "boom")
	_, err = tx.(*Tx).SQL().ExecContext(ctx, `DROP TRIGGER fail_b`)
	require.NoError(t, err)
	got, err := tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("c", `1`)}})
	require.NoError(t, err)
	require.EqualValues(t, 2, got[0].Position, "the failed append left nothing behind")
	require.NoError(t, tx.Commit(ctx))

	all, err := s.Read(ctx, eventlog.ReadQuery{})
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, []string{"kept", "c"}, []string{all[0].StreamID, all[1].StreamID})
}

// TestUniqueViolationIsConflict: should a stream version be taken anyway
// (here by a trigger, behind the store's back), the driver's error becomes a
// version conflict.
func TestUniqueViolationIsConflict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Config{Path: filepath.Join(t.TempDir(), "log.db")})
	_, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `1`)}})
	require.NoError(t, err)
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	defer func() { require.NoError(t, tx.Rollback(ctx)) }()
	_, err = tx.(*Tx).SQL().ExecContext(ctx, `CREATE TEMP TRIGGER collide BEFORE INSERT ON events
		WHEN NEW.stream_id = 's' BEGIN INSERT INTO events SELECT 200, event_id, stream_id, NEW.stream_version, type, data, user_id,
		initiating_user_id, correlation_id, request_id, causation_id, depth, solution, recorded_at, hash FROM events WHERE position = 1; END`)
	require.NoError(t, err)
	for _, expect := range []int64{1, -1} { // -1: no expectation
		req := eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `2`)}}
		if expect >= 0 {
			req.Expect = map[string]int64{"s": expect}
		}
		_, err = tx.Append(ctx, req)
		require.ErrorIs(t, err, eventlog.ErrVersionConflict)
		require.Equal(t, errcode.VersionConflict, errcode.Of(err))
		var vc *eventlog.VersionConflictError
		require.ErrorAs(t, err, &vc)
		require.Equal(t, "s", vc.StreamID)
		require.Equal(t, expect, vc.Expected)
		require.EqualValues(t, -1, vc.Actual)
	}
}

// TestGroupCommit: calls committed together are each atomic on their own;
// a failed one is undone alone, later ones see earlier ones' events.
func TestGroupCommit(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Config{Path: filepath.Join(t.TempDir(), "log.db")})
	_, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `0`)}})
	require.NoError(t, err)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	tests := []struct {
		name     string
		ctx      context.Context
		req      eventlog.AppendRequest
		want     error
		position int64 // of the first event
	}{
		{"new stream", ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("a", `1`)}, Expect: map[string]int64{"a": eventlog.NoStream}}, nil, 2},
		{"conflict", ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("b", `1`), newEvent("s", `1`)}, Expect: map[string]int64{"s": 5}}, eventlog.ErrVersionConflict, 0},
		{"canceled", canceled, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("c", `1`)}}, context.Canceled, 0},
		{"expected", ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `2`)}, Expect: map[string]int64{"s": 1}}, nil, 3},
		{"sees the group's events", ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `3`)}, Expect: map[string]int64{"s": 1}}, eventlog.ErrVersionConflict, 0},
		{"batch", ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("a", `4`), newEvent("d", `5`)}}, nil, 4},
	}
	group := make([]*appendCall, len(tests))
	for i, tt := range tests {
		p, err := s.cfg.PrepareAppend(tt.req)
		require.NoError(t, err)
		group[i] = &appendCall{ctx: tt.ctx, p: p, content: contentHashes(p), done: make(chan error, 1)}
	}
	s.commitGroup(group)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := answered(t, group[i])
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.position, group[i].p.Events[0].Position)
		})
	}
	for _, stream := range []string{"b", "c"} {
		_, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: stream})
		require.ErrorIs(t, err, eventlog.ErrStreamNotFound, stream)
	}
	evs, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "s"})
	require.NoError(t, err)
	require.Len(t, evs, 2)
	rep, err := eventlog.Verify(ctx, s, 0, 0)
	require.NoError(t, err)
	require.True(t, rep.OK(), "broken: %v", rep.Broken)
	require.EqualValues(t, 5, rep.Checked)

	// A failure while writing (here a trigger on the writer connection)
	// fails the whole group: nothing is committed.
	_, err = s.w.ExecContext(ctx, `CREATE TEMP TRIGGER fail_x BEFORE INSERT ON events
		WHEN NEW.stream_id = 'x' BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`)
	require.NoError(t, err)
	group = group[:0]
	for _, stream := range []string{"ok", "x", "later"} {
		p, err := s.cfg.PrepareAppend(eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent(stream, `1`)}})
		require.NoError(t, err)
		group = append(group, &appendCall{ctx: ctx, p: p, content: contentHashes(p), done: make(chan error, 1)})
	}
	s.commitGroup(group)
	for i, c := range group {
		require.ErrorContains(t, answered(t, c), "disk on fire", "call %d", i)
	}
	_, err = s.w.ExecContext(ctx, `DROP TRIGGER fail_x`)
	require.NoError(t, err)
	h, err := s.Head(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 5, h.Position)
}

// answered returns the outcome commitGroup gave c.
func answered(t *testing.T, c *appendCall) error {
	t.Helper()
	select {
	case err := <-c.done:
		return err
	default:
		t.Fatal("not answered")
		return nil
	}
}

// TestAppendWhileHoldingTx: the goroutine holding a Tx calls Append, which
// waits for the writer connection the Tx holds: it is not detected, but the
// wait ends with the caller's context instead of hanging, and the store
// works on once the Tx ends.
func TestAppendWhileHoldingTx(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := open(t, Config{Path: filepath.Join(t.TempDir(), "log.db")})
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("tx", `1`)}})
	require.NoError(t, err)

	done := make(chan error, 1)
	go func() {
		// As if from the Tx's goroutine: that goroutine is blocked here.
		actx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		_, err := s.Append(actx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("self", `1`)}})
		done <- err
	}()
	select {
	case err := <-done:
		require.ErrorIs(t, err, context.DeadlineExceeded)
		require.Equal(t, errcode.Canceled, errcode.Of(err))
	case <-time.After(30 * time.Second):
		require.NoError(t, tx.Rollback(ctx)) // lets the Append through
		t.Fatal("Append waited for the Tx past its context's deadline")
	}

	require.NoError(t, tx.Commit(ctx))
	evs, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("after", `1`)}})
	require.NoError(t, err, "the committer is free again")
	require.EqualValues(t, 2, evs[0].Position)
	_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "self"})
	require.ErrorIs(t, err, eventlog.ErrStreamNotFound, "the timed-out append wrote nothing")
}

// TestClosedEverywhere: after Close, every method and an open Tx fail with
// ErrClosed, and a waiting Wait returns.
func TestClosedEverywhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s, err := Open(ctx, Config{Path: filepath.Join(t.TempDir(), "log.db"), Config: eventlog.Config{PollInterval: time.Hour}})
	require.NoError(t, err)
	_, err = s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `1`)}})
	require.NoError(t, err)

	waited := make(chan error, 2)
	go func() { waited <- s.Wait(ctx, 1) }()
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	// An append queued behind the open transaction.
	go func() {
		_, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `2`)}})
		waited <- err
	}()
	require.NoError(t, s.Close(), "Close does not wait for an open transaction")

	for range 2 {
		select {
		case err := <-waited:
			require.ErrorIs(t, err, eventlog.ErrClosed)
		case <-time.After(30 * time.Second):
			t.Fatal("Wait or Append did not return on Close")
		}
	}
	_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `2`)}})
	require.ErrorIs(t, err, eventlog.ErrClosed)
	require.ErrorIs(t, tx.Commit(ctx), eventlog.ErrClosed)
	require.NoError(t, tx.Rollback(ctx))

	calls := map[string]func() error{
		"ReadStream": func() error {
			_, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "s"})
			return err
		},
		"Head": func() error { _, err := s.Head(ctx); return err },
		"Offset": func() error {
			_, _, err := s.Offset(ctx, "x")
			return err
		},
		"SetOffset": func() error { return s.SetOffset(ctx, "x", 1) },
	}
	for name, call := range calls {
		err := call()
		require.ErrorIs(t, err, eventlog.ErrClosed, name)
		require.Equal(t, errcode.Unavailable, errcode.Of(err), name)
	}
}

// TestWaitHammer: many appenders and many waiters; every waiter sees every
// position reached without relying on the poll interval.
func TestWaitHammer(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s := open(t, Config{Path: filepath.Join(t.TempDir(), "log.db"), Synchronous: SynchronousNormal,
		Config: eventlog.Config{PollInterval: time.Hour}})
	const appenders, each, waiters = 4, 50, 8
	total := int64(appenders * each)
	var wg sync.WaitGroup
	for range waiters {
		wg.Go(func() {
			var pos int64
			for pos < total {
				if err := s.Wait(ctx, pos); err != nil {
					t.Errorf("wait after %d: %v", pos, err)
					return
				}
				h, err := s.Head(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				pos = h.Position
			}
		})
	}
	for a := range appenders {
		wg.Go(func() {
			for i := range each {
				var err error
				if i%2 == 0 {
					_, err = s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("h", `1`)}})
				} else {
					var tx eventlog.Tx
					if tx, err = s.Begin(ctx); err == nil {
						if _, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent(strings.Repeat("x", a+1), `1`)}}); err == nil {
							err = tx.Commit(ctx)
						}
						_ = tx.Rollback(ctx)
					}
				}
				if err != nil {
					t.Errorf("appender %d: %v", a, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestCanceledContext: a done context fails calls with its error, and a
// transaction whose Commit sees it rolls back.
func TestCanceledContext(t *testing.T) {
	t.Parallel()
	s := open(t, Config{Path: filepath.Join(t.TempDir(), "log.db")})
	ctx, cancel := context.WithCancel(context.Background())
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `1`)}})
	require.NoError(t, err)
	cancel()
	require.ErrorIs(t, tx.Commit(ctx), context.Canceled)
	_, err = s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `1`)}})
	require.ErrorIs(t, err, context.Canceled)
	require.ErrorIs(t, s.Wait(ctx, 100), context.Canceled)

	bg := context.Background()
	h, err := s.Head(bg)
	require.NoError(t, err)
	require.Zero(t, h.Position)
	_, err = s.Append(bg, eventlog.AppendRequest{Events: []eventlog.NewEvent{newEvent("s", `1`)}})
	require.NoError(t, err, "the writer connection is free again")
}
