package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// followEvents sizes BenchmarkFollow's log; 0 picks the default.
var followEvents = flag.Int("follow-events", 0, "events in BenchmarkFollow's log (default 100000; 1000000 with BIZEVENTS_BENCH_FULL=1)")

// followSize is the size of BenchmarkFollow's log.
func followSize() int {
	switch {
	case *followEvents > 0:
		return *followEvents
	case os.Getenv("BIZEVENTS_BENCH_FULL") == "1":
		return 1_000_000
	}
	return 100_000
}

// benchData is an event's ~1 KB JSON payload.
var benchData = json.RawMessage(fmt.Sprintf(`{"amount":1250,"currency":"EUR","note":%q}`, strings.Repeat("x", 960)))

// benchStreams spread the appended events over a few streams.
const benchStreams = 64

// appendFixture is a store and, on the same file, a baseline table written
// through a writer handle shaped like the store's (same pragmas, one
// connection, BEGIN IMMEDIATE).
type appendFixture struct {
	s       *Store
	base    *sql.DB
	insert  *sql.Stmt
	streams []string
	id      []byte
	hash    []byte
}

func newAppendFixture(tb testing.TB) *appendFixture {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "bench.db")
	f := &appendFixture{s: open(tb, Config{Path: path}), id: make([]byte, 16), hash: make([]byte, eventlog.HashSize)}
	wdsn, err := dsn(path, DefaultSynchronous, false)
	require.NoError(tb, err)
	f.base, err = sql.Open("sqlite", wdsn)
	require.NoError(tb, err)
	f.base.SetMaxOpenConns(1)
	tb.Cleanup(func() { require.NoError(tb, f.base.Close()) })
	_, err = f.base.ExecContext(ctx, `CREATE TABLE baseline_events (
		id INTEGER PRIMARY KEY, event_id BLOB NOT NULL, stream_id TEXT NOT NULL, stream_version INTEGER NOT NULL,
		type TEXT NOT NULL, data TEXT NOT NULL, user_id TEXT NOT NULL, initiating_user_id TEXT NOT NULL,
		correlation_id TEXT NOT NULL, request_id TEXT NOT NULL, causation_id TEXT NOT NULL, depth INTEGER NOT NULL,
		solution TEXT NOT NULL, recorded_at INTEGER NOT NULL, hash BLOB NOT NULL) STRICT`)
	require.NoError(tb, err)
	f.insert, err = f.base.PrepareContext(ctx, `INSERT INTO baseline_events (event_id, stream_id, stream_version, type, data,
		user_id, initiating_user_id, correlation_id, request_id, causation_id, depth, solution, recorded_at, hash)
		VALUES (?, ?, 1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = f.insert.Close() })
	for i := range benchStreams {
		f.streams = append(f.streams, fmt.Sprintf("account/%d", i))
	}
	return f
}

// benchMetadata is every appended event's metadata.
var benchMetadata = eventlog.Metadata{UserID: "user-1", InitiatingUserID: "user-1", CorrelationID: "corr-1",
	RequestID: "req-1", CausationID: "cause-1", Depth: 1, Solution: "bench"}

// baseline writes op's batch as bare rows, in one transaction.
func (f *appendFixture) baseline(ctx context.Context, op, batch int) error {
	tx, err := f.base.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	ins := tx.StmtContext(ctx, f.insert)
	m := &benchMetadata
	for k := range batch {
		if _, err := ins.ExecContext(ctx, f.id, f.streams[(op*batch+k)%benchStreams], "Purchase", string(benchData),
			m.UserID, m.InitiatingUserID, m.CorrelationID, m.RequestID, m.CausationID, m.Depth, m.Solution, int64(op), f.hash); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// eventlog appends op's batch through the store.
func (f *appendFixture) eventlog(ctx context.Context, op, batch int) error {
	evs := make([]eventlog.NewEvent, batch)
	for k := range evs {
		evs[k] = eventlog.NewEvent{StreamID: f.streams[(op*batch+k)%benchStreams], Type: "Purchase", Data: benchData, Metadata: benchMetadata}
	}
	_, err := f.s.Append(ctx, eventlog.AppendRequest{Events: evs})
	return err
}

// runWriters runs b.N calls of op, spread over writers goroutines, and
// reports events/s.
func runWriters(b *testing.B, writers, batch int, op func(ctx context.Context, op, batch int) error) {
	ctx := context.Background()
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	b.ResetTimer()
	for range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := op(ctx, int(i), batch); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppend compares Store.Append with bare inserts of the same rows
// into the same file, one commit per call, from concurrent writers.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			for _, batch := range []int{1, 100} {
				b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
					f := newAppendFixture(b)
					b.Run("baseline", func(b *testing.B) { runWriters(b, writers, batch, f.baseline) })
					b.Run("eventlog", func(b *testing.B) { runWriters(b, writers, batch, f.eventlog) })
				})
			}
		})
	}
}

// followFixture is a store holding n events, and a bare reader on its file.
type followFixture struct {
	s    *Store
	base *sql.DB
	n    int
}

func newFollowFixture(tb testing.TB, n int) *followFixture {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "follow.db")
	f := &followFixture{s: open(tb, Config{Path: path}), n: n}
	const fillBatch = 1000
	evs := make([]eventlog.NewEvent, 0, fillBatch)
	for i := 0; i < n; {
		evs = evs[:0]
		for k := 0; k < fillBatch && i < n; k++ {
			evs = append(evs, eventlog.NewEvent{StreamID: fmt.Sprintf("account/%d", i%benchStreams), Type: "Purchase", Data: benchData, Metadata: benchMetadata})
			i++
		}
		_, err := f.s.Append(ctx, eventlog.AppendRequest{Events: evs})
		require.NoError(tb, err)
	}
	rdsn, err := dsn(path, DefaultSynchronous, true)
	require.NoError(tb, err)
	f.base, err = sql.Open("sqlite", rdsn)
	require.NoError(tb, err)
	f.base.SetMaxOpenConns(1)
	tb.Cleanup(func() { require.NoError(tb, f.base.Close()) })
	return f
}

// followBatch is the page size of both readers.
const followBatch = 1000

// baseline reads every row by keyset pages, scanning each column.
func (f *followFixture) baseline(ctx context.Context) (int, error) {
	var (
		after, n                                            int64
		pos, version, depth, at                             int64
		id, stream, typ, data, u, iu, corr, req, cause, sol sql.RawBytes
		hash                                                sql.RawBytes
	)
	for {
		rows, err := f.base.QueryContext(ctx, `SELECT `+eventColumns+` FROM events WHERE position > ? ORDER BY position LIMIT ?`, after, followBatch)
		if err != nil {
			return 0, err
		}
		got := 0
		for rows.Next() {
			if err := rows.Scan(&pos, &id, &stream, &version, &typ, &data, &u, &iu, &corr, &req, &cause, &depth, &sol, &at, &hash); err != nil {
				_ = rows.Close()
				return 0, err
			}
			after = pos
			got++
		}
		if err := rows.Close(); err != nil {
			return 0, err
		}
		if err := rows.Err(); err != nil {
			return 0, err
		}
		n += int64(got)
		if got == 0 {
			return int(n), nil
		}
	}
}

// follow follows the log from the start until it has seen every event.
func (f *followFixture) follow(ctx context.Context) (int, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	seen := 0
	err := eventlog.Follow(ctx, f.s, eventlog.FollowConfig{BatchSize: followBatch}, func(_ context.Context, evs []eventlog.Event) error {
		seen += len(evs)
		if evs[len(evs)-1].Position >= int64(f.n) {
			cancel()
		}
		return nil
	})
	if seen == f.n && ctx.Err() != nil {
		err = nil
	}
	return seen, err
}

// runPasses runs b.N full passes of read over f's log and reports events/s.
func runPasses(b *testing.B, f *followFixture, read func(context.Context) (int, error)) {
	ctx := context.Background()
	b.ResetTimer()
	for range b.N {
		n, err := read(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if n != f.n {
			b.Fatalf("read %d events, want %d", n, f.n)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*f.n)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkFollow compares eventlog.Follow over a filled log with a bare
// keyset read of the same rows. Size: -follow-events, or
// BIZEVENTS_BENCH_FULL=1 for a million.
func BenchmarkFollow(b *testing.B) {
	n := followSize()
	b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
		f := newFollowFixture(b, n)
		b.Run("baseline", func(b *testing.B) { runPasses(b, f, f.baseline) })
		b.Run("eventlog", func(b *testing.B) { runPasses(b, f, f.follow) })
	})
}

// TestBenchFixtures checks what the benchmarks measure: the appends land
// where they should, and both followers read the whole log.
func TestBenchFixtures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	a := newAppendFixture(t)
	for op := range 3 {
		require.NoError(t, a.baseline(ctx, op, 5))
		require.NoError(t, a.eventlog(ctx, op, 5))
	}
	var rows int
	require.NoError(t, a.base.QueryRowContext(ctx, `SELECT count(*) FROM baseline_events WHERE length(data) = ?`, len(benchData)).Scan(&rows))
	require.Equal(t, 15, rows)
	h, err := a.s.Head(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 15, h.Position)
	require.Greater(t, len(benchData), 1000)
	require.True(t, json.Valid(benchData))

	const n = 2500 // not a multiple of the batch sizes
	f := newFollowFixture(t, n)
	rep, err := eventlog.Verify(ctx, f.s, 0, 0)
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.EqualValues(t, n, rep.Checked)
	for name, read := range map[string]func(context.Context) (int, error){"baseline": f.baseline, "eventlog": f.follow} {
		got, err := read(ctx)
		require.NoError(t, err, name)
		require.Equal(t, n, got, name)
	}
}
