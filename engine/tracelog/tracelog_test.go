package tracelog_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tracelog"
	"github.com/bizevents/bizevents/plugins"
)

func trace(step string, correlation uuid.UUID, start time.Time, err error, lines ...string) plugins.Trace {
	return plugins.Trace{Module: "pos_validation", Hash: strings.Repeat("ab", 32), Handler: "ValidatePurchase", Step: step,
		Message: "pos_CustomerPurchase", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Depth: 1,
		CorrelationID: correlation, RequestID: uuid.New(), OperationTime: start, Start: start, Duration: 1500 * time.Microsecond,
		Lines: lines, Err: err}
}

func TestWriteAndQuery(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, tracelog.Migrations...)
		w := tracelog.NewWriter(db, tracelog.Config{BatchSize: 3, FlushInterval: 10 * time.Millisecond})
		c1, c2 := uuid.New(), uuid.New()
		t0 := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
		w.WriteTrace(ctx, trace("validate", c1, t0, nil, "purchase of 19.9 EUR is valid"))
		w.WriteTrace(ctx, trace("validate", c2, t0.Add(time.Minute), pipeline.Fail("the amount -5 is negative"), "checking"))
		w.WriteTrace(ctx, trace("totals", c1, t0.Add(2*time.Minute), nil, "spent 19.9", "in 1 purchase"))
		long := trace("totals", c2, t0.Add(3*time.Minute), errors.New(strings.Repeat("x", tracelog.MaxErrorBytes+10)))
		long.Dropped = 7
		w.WriteTrace(ctx, long)
		require.NoError(t, w.Flush(ctx))
		require.Equal(t, int64(4), w.Stored())

		for _, c := range []struct {
			name string
			f    tracelog.Filter
			want []string // steps and correlation, in order
		}{
			{"all", tracelog.Filter{}, []string{"validate/1", "validate/2", "totals/1", "totals/2"}},
			{"step", tracelog.Filter{Step: "totals"}, []string{"totals/1", "totals/2"}},
			{"correlation", tracelog.Filter{CorrelationID: c1}, []string{"validate/1", "totals/1"}},
			{"time", tracelog.Filter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"validate/2", "totals/1"}},
			{"failed", tracelog.Filter{FailedOnly: true}, []string{"validate/2", "totals/2"}},
			{"module and handler", tracelog.Filter{Module: "pos_validation", Handler: "ValidatePurchase", Limit: 1}, []string{"validate/1"}},
			{"other module", tracelog.Filter{Module: "nope"}, nil},
		} {
			recs, err := tracelog.Query(ctx, db, c.f)
			require.NoError(t, err, c.name)
			var got []string
			for _, r := range recs {
				n := "1"
				if r.CorrelationID == c2.String() {
					n = "2"
				}
				got = append(got, r.Step+"/"+n)
			}
			require.Equal(t, c.want, got, c.name)
		}

		all, err := tracelog.Query(ctx, db, tracelog.Filter{})
		require.NoError(t, err)
		first := all[0]
		require.Equal(t, []string{"purchase of 19.9 EUR is valid"}, first.Lines)
		require.Equal(t, "pos_CustomerPurchase", first.Message)
		require.Equal(t, int(pipeline.PreOperation), first.Stage)
		require.True(t, t0.Equal(first.Start))
		require.Equal(t, 1500*time.Microsecond, first.Duration)
		require.Empty(t, first.ErrorCode)
		require.Equal(t, string(errcode.HandlerFailed), all[1].ErrorCode)
		require.Equal(t, "the amount -5 is negative", all[1].Error)
		require.Equal(t, string(errcode.Internal), all[3].ErrorCode)
		require.Len(t, all[3].Error, tracelog.MaxErrorBytes+len("…"))
		require.Equal(t, 7, all[3].Dropped)
		require.Equal(t, []string{}, all[3].Lines)

		// Paging by id.
		page, err := tracelog.Query(ctx, db, tracelog.Filter{After: all[1].ID, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []int64{all[2].ID}, []int64{page[0].ID})

		require.NoError(t, w.Close(ctx))
		w.WriteTrace(ctx, trace("late", c1, t0, nil))
		require.Equal(t, int64(1), w.Dropped(), "a trace after Close is dropped, not stored")
	})
}

func TestBadFilter(t *testing.T) {
	t.Parallel()
	db := storagetest.SQLite(t, tracelog.Migrations...)
	now := time.Now()
	for _, f := range []tracelog.Filter{{Limit: -1}, {Limit: tracelog.MaxLimit + 1}, {After: -1}, {Since: now, Until: now}} {
		_, err := tracelog.Query(context.Background(), db, f)
		require.Equal(t, errcode.InvalidArgument, errcode.Of(err), "%+v: %v", f, err)
	}
}

// TestFullQueueDrops: a writer whose queue is full drops traces rather
// than block a plugin call, and counts them; what it queued is stored.
func TestFullQueueDrops(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storagetest.SQLite(t, tracelog.Migrations...)
	// Hold the database's only writer, so the writer cannot store.
	tx, err := db.Begin(ctx)
	require.NoError(t, err)
	w := tracelog.NewWriter(db, tracelog.Config{QueueSize: 2, BatchSize: 1, FlushInterval: time.Millisecond})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.WriteTrace(ctx, trace("flood", uuid.New(), time.Now(), nil, "line", string(rune('a'+i%26))))
		}()
	}
	wg.Wait()
	require.Positive(t, w.Dropped())
	require.NoError(t, tx.Rollback(ctx))
	require.NoError(t, w.Close(ctx))
	recs, err := tracelog.Query(ctx, db, tracelog.Filter{Step: "flood", Limit: 100})
	require.NoError(t, err)
	require.Equal(t, int64(50), int64(len(recs))+w.Dropped(), "every trace is stored or counted as dropped")
	require.Equal(t, w.Stored(), int64(len(recs)))
}
