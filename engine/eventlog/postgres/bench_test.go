package postgres_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/postgres"
	"github.com/bizevents/bizevents/internal/testpg"
)

// benchFull reports whether benchmarks run at full size (make bench) rather
// than as a quick smoke run (make test, -benchtime=1x).
func benchFull() bool { return os.Getenv("BIZEVENTS_BENCH_FULL") == "1" }

// payload is a ~1 KB JSON document, the event data of every benchmark.
var payload = func() []byte {
	return []byte(fmt.Sprintf(`{"customer":"8a3f6c1e-6f0b-4c55-9c1a-0c5d2b7e4f11","store":"Contoso Downtown","items":[%s],"note":%q}`,
		strings.TrimSuffix(strings.Repeat(`{"sku":"SKU-000123","qty":2,"price":19.99},`, 16), ","), strings.Repeat("x", 180)))
}()

// baselineTable is a plain table with the same columns as the log's events
// table and no index but its primary key.
const baselineTable = `CREATE TABLE %s.baseline (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	event_id uuid NOT NULL, stream_id text NOT NULL, stream_version bigint NOT NULL, type text NOT NULL,
	data json NOT NULL, user_id text NOT NULL, initiating_user_id text NOT NULL, correlation_id text NOT NULL,
	request_id text NOT NULL, causation_id text NOT NULL, depth integer NOT NULL, solution text NOT NULL,
	recorded_at timestamptz NOT NULL)`

const baselineInsert = `INSERT INTO %s.baseline (event_id, stream_id, stream_version, type, data, user_id,
	initiating_user_id, correlation_id, request_id, causation_id, depth, solution, recorded_at)
SELECT gen_random_uuid(), s, 1, 'CustomerPurchase', d::json, 'u', 'u', c, '', '', 1, 'contoso', now()
FROM unnest($1::text[], $2::text[], $3::text[]) AS n(s, d, c)`

type benchDB struct {
	store  *postgres.Store
	pool   *pgxpool.Pool
	schema string
}

func openBench(b *testing.B, conns int) *benchDB {
	b.Helper()
	ctx := context.Background()
	url, schema := testpg.URL(b), testpg.Schema(b)
	pool, err := pgxpool.New(ctx, fmt.Sprintf("%s&pool_max_conns=%d", url, conns+4))
	require.NoError(b, err)
	b.Cleanup(pool.Close)
	s, err := postgres.New(ctx, pool, postgres.Config{Schema: schema})
	require.NoError(b, err)
	b.Cleanup(func() { _ = s.Close() })
	_, err = pool.Exec(ctx, fmt.Sprintf(baselineTable, pgx.Identifier{schema}.Sanitize()))
	require.NoError(b, err)
	return &benchDB{store: s, pool: pool, schema: pgx.Identifier{schema}.Sanitize()}
}

// runWriters runs op from `writers` goroutines until b.N operations are done
// and returns the elapsed time.
func runWriters(b *testing.B, writers int, op func(worker int, i int64) error) time.Duration {
	b.Helper()
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		first atomic.Value
	)
	b.ResetTimer()
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				if err := op(w, i); err != nil {
					first.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := first.Load().(error); err != nil {
		b.Fatal(err)
	}
	return elapsed
}

// BenchmarkAppend compares the log's append rate with a bare INSERT of the
// same rows into a plain table, each operation one commit, with 1, 16 and 64
// concurrent writers and batches of 1 and 100 events. The figure is the
// ratio eventlog/baseline of events/s. `sealed-events/s` also counts the
// time until the sealer has caught up.
func BenchmarkAppend(b *testing.B) {
	for _, writers := range []int{1, 16, 64} {
		for _, batch := range []int{1, 100} {
			b.Run(fmt.Sprintf("writers=%d/batch=%d", writers, batch), func(b *testing.B) {
				db := openBench(b, writers)
				ctx := context.Background()
				b.Run("baseline", func(b *testing.B) {
					insert := fmt.Sprintf(baselineInsert, db.schema)
					single := fmt.Sprintf(`INSERT INTO %s.baseline (event_id, stream_id, stream_version, type, data, user_id,
	initiating_user_id, correlation_id, request_id, causation_id, depth, solution, recorded_at)
VALUES (gen_random_uuid(), $1, 1, 'CustomerPurchase', $2::json, 'u', 'u', $3, '', '', 1, 'contoso', now())`, db.schema)
					elapsed := runWriters(b, writers, func(w int, i int64) error {
						if batch == 1 {
							_, err := db.pool.Exec(ctx, single, fmt.Sprintf("bench/%d/%d", w, i), string(payload), "corr")
							return err
						}
						streams, data, corr := make([]string, batch), make([]string, batch), make([]string, batch)
						for k := range batch {
							streams[k], data[k], corr[k] = fmt.Sprintf("bench/%d/%d/%d", w, i, k), string(payload), "corr"
						}
						_, err := db.pool.Exec(ctx, insert, streams, data, corr)
						return err
					})
					b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "events/s")
				})
				b.Run("eventlog", func(b *testing.B) {
					head, err := db.store.Head(ctx)
					require.NoError(b, err)
					elapsed := runWriters(b, writers, func(w int, i int64) error {
						evs := make([]eventlog.NewEvent, batch)
						for k := range batch {
							evs[k] = eventlog.NewEvent{
								StreamID: fmt.Sprintf("bench/%d/%d/%d", w, i, k), Type: "CustomerPurchase", Data: payload,
								Metadata: eventlog.Metadata{UserID: "u", InitiatingUserID: "u", CorrelationID: "corr", Depth: 1, Solution: "contoso"},
							}
						}
						_, err := db.store.Append(ctx, eventlog.AppendRequest{Events: evs})
						return err
					})
					b.ReportMetric(float64(b.N*batch)/elapsed.Seconds(), "events/s")
					start := time.Now().Add(-elapsed)
					want := head.Position + head.Unsealed + int64(b.N*batch)
					for {
						h, err := db.store.Head(ctx)
						require.NoError(b, err)
						if h.Position >= want {
							break
						}
						wctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
						_ = db.store.Wait(wctx, h.Position)
						cancel()
					}
					b.ReportMetric(float64(b.N*batch)/time.Since(start).Seconds(), "sealed-events/s")
				})
			})
		}
	}
}

// BenchmarkFollow measures a follower reading the whole log (1M events with
// BIZEVENTS_BENCH_FULL=1, else 20k) next to a bare keyset read of the same
// rows from a plain table. One operation is one full pass.
func BenchmarkFollow(b *testing.B) {
	total := 20_000
	if benchFull() {
		total = 1_000_000
	}
	db := openBench(b, 4)
	ctx := context.Background()
	const batch = 1000
	for i := 0; i < total; i += batch {
		evs := make([]eventlog.NewEvent, batch)
		for k := range evs {
			evs[k] = eventlog.NewEvent{StreamID: fmt.Sprintf("f/%d", i+k), Type: "CustomerPurchase", Data: payload,
				Metadata: eventlog.Metadata{UserID: "u", CorrelationID: "corr", Depth: 1}}
		}
		_, err := db.store.Append(ctx, eventlog.AppendRequest{Events: evs})
		require.NoError(b, err)
	}
	for {
		h, err := db.store.Head(ctx)
		require.NoError(b, err)
		if h.Position >= int64(total) {
			break
		}
		_ = db.store.Wait(ctx, h.Position)
	}
	_, err := db.pool.Exec(ctx, fmt.Sprintf(`INSERT INTO %[1]s.baseline (event_id, stream_id, stream_version, type, data, user_id,
	initiating_user_id, correlation_id, request_id, causation_id, depth, solution, recorded_at)
SELECT event_id, stream_id, stream_version, type, data, user_id, initiating_user_id, correlation_id, request_id,
	causation_id, depth, solution, recorded_at FROM %[1]s.events ORDER BY id`, db.schema))
	require.NoError(b, err)
	for _, table := range []string{"baseline", "events", "seals"} {
		_, err = db.pool.Exec(ctx, "VACUUM ANALYZE "+db.schema+"."+table)
		require.NoError(b, err)
	}

	b.Run("baseline", func(b *testing.B) {
		query := fmt.Sprintf(`SELECT id, event_id::text, stream_id, stream_version, type, data::text, user_id,
	initiating_user_id, correlation_id, request_id, causation_id, depth, solution, recorded_at
FROM %s.baseline WHERE id > $1 ORDER BY id LIMIT $2`, db.schema)
		b.ResetTimer()
		for range b.N {
			var last int64
			n := 0
			for {
				rows, err := db.pool.Query(ctx, query, last, batch)
				require.NoError(b, err)
				got := 0
				var (
					e                                   eventlog.Event
					id, data                            string
					dep                                 int32
					at                                  time.Time
					u, iu, c, r, cz, sol, stream, type_ string
				)
				for rows.Next() {
					require.NoError(b, rows.Scan(&last, &id, &stream, &e.StreamVersion, &type_, &data, &u, &iu, &c, &r, &cz, &dep, &sol, &at))
					got++
				}
				require.NoError(b, rows.Err())
				if got == 0 {
					break
				}
				n += got
			}
			require.Equal(b, total, n)
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
	})
	b.Run("eventlog", func(b *testing.B) {
		b.ResetTimer()
		for range b.N {
			fctx, cancel := context.WithCancel(ctx)
			n := 0
			err := eventlog.Follow(fctx, db.store, eventlog.FollowConfig{BatchSize: batch}, func(_ context.Context, evs []eventlog.Event) error {
				n += len(evs)
				if n >= total {
					cancel()
				}
				return nil
			})
			cancel()
			require.ErrorIs(b, err, context.Canceled)
			require.Equal(b, total, n)
		}
		b.ReportMetric(float64(total*b.N)/b.Elapsed().Seconds(), "events/s")
	})
}

// BenchmarkFollowLatency measures the time from an append's return to a
// follower holding the event: the sealer's pass, the wake-up, the read. Each
// operation appends one event and waits until the follower has it; the
// baseline is a bare INSERT's commit followed by a bare keyset read that
// finds the row, polled in a loop.
func BenchmarkFollowLatency(b *testing.B) {
	db := openBench(b, 4)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	b.Run("baseline", func(b *testing.B) {
		insert := fmt.Sprintf(`INSERT INTO %s.baseline (event_id, stream_id, stream_version, type, data, user_id,
	initiating_user_id, correlation_id, request_id, causation_id, depth, solution, recorded_at)
VALUES (gen_random_uuid(), $1, 1, 'CustomerPurchase', $2::json, 'u', 'u', '', '', '', 1, '', now()) RETURNING id`, db.schema)
		read := fmt.Sprintf(`SELECT id FROM %s.baseline WHERE id > $1 ORDER BY id LIMIT 100`, db.schema)
		lat := make([]time.Duration, 0, b.N)
		// Each run of the benchmark starts at the end of the table, as
		// the follower does at its offset.
		var last int64
		require.NoError(b, db.pool.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(max(id), 0) FROM %s.baseline`, db.schema)).Scan(&last))
		for i := range b.N {
			var id int64
			require.NoError(b, db.pool.QueryRow(ctx, insert, fmt.Sprint("lat/", i), string(payload)).Scan(&id))
			start := time.Now()
			for {
				var got int64
				err := db.pool.QueryRow(ctx, read, last).Scan(&got)
				if err == nil && got == id {
					last = got
					break
				}
			}
			lat = append(lat, time.Since(start))
		}
		reportLatency(b, lat)
	})
	b.Run("eventlog", func(b *testing.B) {
		head, err := db.store.Head(ctx)
		require.NoError(b, err)
		got := make(chan time.Time, 1)
		fctx, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			_ = eventlog.Follow(fctx, db.store, eventlog.FollowConfig{From: head.Position}, func(_ context.Context, evs []eventlog.Event) error {
				for range evs {
					got <- time.Now()
				}
				return nil
			})
		}()
		lat := make([]time.Duration, 0, b.N)
		for i := range b.N {
			_, err := db.store.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{{StreamID: fmt.Sprint("lat/", i), Type: "CustomerPurchase", Data: payload}}})
			require.NoError(b, err)
			start := time.Now()
			select {
			case at := <-got:
				lat = append(lat, at.Sub(start))
			case <-time.After(10 * time.Second):
				b.Fatal("follower did not receive the event")
			}
		}
		reportLatency(b, lat)
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	b.Helper()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}
