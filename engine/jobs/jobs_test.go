package jobs_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
)

// clock is a test clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newJob(sub string, pos int64, stream string) jobs.NewJob {
	return jobs.NewJob{Subscriber: sub, Kind: "step", Target: sub, Position: pos, EventID: uuid.New(), StreamID: stream,
		EventType: "account.Create", CorrelationID: "c-" + stream,
		Policy: jobs.Policy{MaxAttempts: 3, InitialDelay: time.Second, MaxDelay: time.Minute, Multiplier: 2, Jitter: 0.0001}}
}

func TestLifecycle(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, jobs.Migrations...)
		clk := &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
		s := jobs.NewStore(db, clk.Now)

		n, err := s.Enqueue(ctx, db, []jobs.NewJob{newJob("step:a", 1, "account/1"), newJob("step:a", 2, "account/2")})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		n, err = s.Enqueue(ctx, db, []jobs.NewJob{newJob("step:a", 1, "account/1")})
		require.NoError(t, err)
		require.Zero(t, n, "the same event for the same subscriber is one job")

		// Claim, fail (retryable), wait the backoff, claim again, succeed.
		got, err := s.Claim(ctx, "p1", 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		j := got[0]
		require.Equal(t, int64(1), j.Position)
		require.Equal(t, jobs.Running, j.Status)
		require.Equal(t, 1, j.Attempts)
		start := clk.Now()
		j, err = s.Finish(ctx, j, "p1", jobs.Outcome{Start: start, Duration: 3 * time.Millisecond, Err: errors.New("receiver said 500"), Retryable: true, Status: 500, Response: "oops"})
		require.NoError(t, err)
		require.Equal(t, jobs.Waiting, j.Status)
		require.Equal(t, "receiver said 500", j.LastError)
		require.WithinDuration(t, start.Add(time.Second), j.NextAttemptAt, 10*time.Millisecond, "first backoff is the initial delay")

		got, err = s.Claim(ctx, "p1", 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1, "job 1 is not due yet; job 2 is")
		require.Equal(t, int64(2), got[0].Position)
		_, err = s.Finish(ctx, got[0], "p1", jobs.Outcome{Start: clk.Now()})
		require.NoError(t, err)

		clk.Add(1100 * time.Millisecond)
		got, err = s.Claim(ctx, "p2", 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 2, got[0].Attempts)
		// Another process's outcome does not count.
		_, err = s.Finish(ctx, got[0], "p1", jobs.Outcome{Start: clk.Now()})
		require.ErrorIs(t, err, jobs.ErrLeaseLost)
		j, err = s.Finish(ctx, got[0], "p2", jobs.Outcome{Start: clk.Now(), Duration: time.Millisecond, Status: 204})
		require.NoError(t, err)
		require.Equal(t, jobs.Succeeded, j.Status)
		require.False(t, j.FinishedAt.IsZero())

		atts, err := s.Attempts(ctx, j.ID)
		require.NoError(t, err)
		require.Len(t, atts, 2)
		require.Equal(t, 500, atts[0].Status)
		require.Equal(t, "oops", atts[0].Response)
		require.Equal(t, "p1", atts[0].Owner)
		require.Equal(t, 204, atts[1].Status)

		counts, err := s.Counts(ctx, "step:a")
		require.NoError(t, err)
		require.Equal(t, map[jobs.Status]int64{jobs.Succeeded: 2}, counts)

		// Cleanup keeps what finished after the cutoff.
		removed, err := s.Cleanup(ctx, clk.Now().Add(-time.Hour))
		require.NoError(t, err)
		require.Zero(t, removed)
		removed, err = s.Cleanup(ctx, clk.Now().Add(time.Second))
		require.NoError(t, err)
		require.Equal(t, int64(2), removed)
		_, err = s.Get(ctx, j.ID)
		require.ErrorIs(t, err, jobs.ErrNotFound)
		require.Equal(t, errcode.NotFound, errcode.Of(err))
	})
}

func TestDeadLetterRetryCancel(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, jobs.Migrations...)
		clk := &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
		s := jobs.NewStore(db, clk.Now)
		_, err := s.Enqueue(ctx, db, []jobs.NewJob{newJob("endpoint:hook", 7, "account/1")})
		require.NoError(t, err)

		// Three attempts, backoffs 1 s and 2 s, then dead letter.
		var j jobs.Job
		for attempt := 1; attempt <= 3; attempt++ {
			got, err := s.Claim(ctx, "p", 1, time.Minute)
			require.NoError(t, err)
			require.Len(t, got, 1, "attempt %d", attempt)
			j, err = s.Finish(ctx, got[0], "p", jobs.Outcome{Start: clk.Now(), Err: fmt.Errorf("timeout %d", attempt), Retryable: true})
			require.NoError(t, err)
			clk.Add(5 * time.Second)
		}
		require.Equal(t, jobs.Failed, j.Status)
		require.True(t, j.DeadLettered)
		require.Equal(t, "timeout 3", j.LastError)
		dead, err := s.List(ctx, jobs.Filter{DeadLettered: true})
		require.NoError(t, err)
		require.Len(t, dead, 1)
		got, err := s.Claim(ctx, "p", 1, time.Minute)
		require.NoError(t, err)
		require.Empty(t, got, "a dead-lettered job is not claimed")

		// A manual retry starts its attempts afresh.
		j, err = s.Retry(ctx, j.ID)
		require.NoError(t, err)
		require.Equal(t, jobs.Waiting, j.Status)
		require.Zero(t, j.Attempts)
		require.False(t, j.DeadLettered)
		got, err = s.Claim(ctx, "p", 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)

		// Canceling a running job: its outcome is not recorded.
		j, err = s.Cancel(ctx, got[0].ID)
		require.NoError(t, err)
		require.Equal(t, jobs.Canceled, j.Status)
		_, err = s.Finish(ctx, got[0], "p", jobs.Outcome{Start: clk.Now()})
		require.ErrorIs(t, err, jobs.ErrLeaseLost)

		// A failure no retry fixes fails at once.
		_, err = s.Enqueue(ctx, db, []jobs.NewJob{newJob("endpoint:hook", 8, "account/1")})
		require.NoError(t, err)
		got, err = s.Claim(ctx, "p", 1, time.Minute)
		require.NoError(t, err)
		j, err = s.Finish(ctx, got[0], "p", jobs.Outcome{Start: clk.Now(), Err: errors.New("400 bad request"), Retryable: false, Status: 400})
		require.NoError(t, err)
		require.Equal(t, jobs.Failed, j.Status)
		require.Equal(t, 1, j.Attempts)

		// Retrying a succeeded job, or canceling one, is refused.
		_, err = s.Enqueue(ctx, db, []jobs.NewJob{newJob("endpoint:hook", 9, "account/1")})
		require.NoError(t, err)
		got, err = s.Claim(ctx, "p", 1, time.Minute)
		require.NoError(t, err)
		j, err = s.Finish(ctx, got[0], "p", jobs.Outcome{Start: clk.Now()})
		require.NoError(t, err)
		_, err = s.Retry(ctx, j.ID)
		require.ErrorIs(t, err, jobs.ErrState)
		require.Equal(t, errcode.StateConflict, errcode.Of(err))
		_, err = s.Cancel(ctx, j.ID)
		require.ErrorIs(t, err, jobs.ErrState)

		// Filters.
		list, err := s.List(ctx, jobs.Filter{Status: []jobs.Status{jobs.Canceled, jobs.Failed}})
		require.NoError(t, err)
		require.Len(t, list, 2)
		_, err = s.List(ctx, jobs.Filter{Status: []jobs.Status{"done"}})
		require.Equal(t, errcode.InvalidArgument, errcode.Of(err))
		page, err := s.List(ctx, jobs.Filter{After: list[0].ID})
		require.NoError(t, err)
		require.NotContains(t, []uuid.UUID{page[0].ID}, list[0].ID)
	})
}

// TestExpiredLeaseIsTakenOver: a process that claimed a job and died
// leaves it running; once its lease ends, another process claims it.
func TestExpiredLeaseIsTakenOver(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, jobs.Migrations...)
		clk := &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
		s := jobs.NewStore(db, clk.Now)
		_, err := s.Enqueue(ctx, db, []jobs.NewJob{newJob("step:a", 1, "x")})
		require.NoError(t, err)
		got, err := s.Claim(ctx, "dead", 1, 30*time.Second)
		require.NoError(t, err)
		require.Len(t, got, 1)
		got, err = s.Claim(ctx, "alive", 1, 30*time.Second)
		require.NoError(t, err)
		require.Empty(t, got, "the lease still holds")
		clk.Add(31 * time.Second)
		got, err = s.Claim(ctx, "alive", 1, 30*time.Second)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 2, got[0].Attempts, "the crashed attempt counts")
		require.Equal(t, "alive", got[0].Owner)
	})
}

// TestOrderedPerStream: ordered jobs of one subscriber and stream run one
// at a time, in position order; other streams are not held up.
func TestOrderedPerStream(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, jobs.Migrations...)
		s := jobs.NewStore(db, nil)
		var batch []jobs.NewJob
		for i, stream := range []string{"row/1", "row/1", "row/2", "row/1"} {
			j := newJob("step:o", int64(i+1), stream)
			j.Ordered = true
			batch = append(batch, j)
		}
		_, err := s.Enqueue(ctx, db, batch)
		require.NoError(t, err)
		got, err := s.Claim(ctx, "p", 10, time.Minute)
		require.NoError(t, err)
		var pos []int64
		for _, j := range got {
			pos = append(pos, j.Position)
		}
		require.ElementsMatch(t, []int64{1, 3}, pos, "one job per stream at a time")
		for _, j := range got {
			if j.Position == 1 {
				_, err := s.Finish(ctx, j, "p", jobs.Outcome{Start: time.Now()})
				require.NoError(t, err)
			}
		}
		got, err = s.Claim(ctx, "p", 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, int64(2), got[0].Position)
	})
}

// TestConcurrentClaimsRunOnce hammers Claim from several goroutines (and,
// on PostgreSQL, connections): every job is claimed exactly once.
func TestConcurrentClaimsRunOnce(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, jobs.Migrations...)
		s := jobs.NewStore(db, nil)
		const total = 300
		var batch []jobs.NewJob
		for i := range total {
			batch = append(batch, newJob("step:h", int64(i+1), fmt.Sprint("s/", i)))
		}
		_, err := s.Enqueue(ctx, db, batch)
		require.NoError(t, err)
		var seen sync.Map
		var dup, done atomic.Int64
		var wg sync.WaitGroup
		for w := range 6 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				owner := fmt.Sprint("w", w)
				for {
					got, err := s.Claim(ctx, owner, 7, time.Minute)
					if err != nil {
						t.Error(err)
						return
					}
					if len(got) == 0 {
						return
					}
					for _, j := range got {
						if _, loaded := seen.LoadOrStore(j.ID, owner); loaded {
							dup.Add(1)
						}
						if _, err := s.Finish(ctx, j, owner, jobs.Outcome{Start: time.Now()}); err != nil {
							t.Error(err)
						}
						done.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		require.Zero(t, dup.Load())
		require.Equal(t, int64(total), done.Load())
	})
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	p := jobs.Policy{}.WithDefaults()
	require.NoError(t, p.Validate())
	require.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, []time.Duration{p.Backoff(1), p.Backoff(2), p.Backoff(3)})
	require.Equal(t, time.Hour, p.Backoff(40))
	bad := jobs.Policy{MaxAttempts: -1, InitialDelay: time.Hour, MaxDelay: time.Second, Multiplier: 0.5, Jitter: 2}
	err := bad.Validate()
	for _, want := range []string{"maxAttempts", "delays", "multiplier", "jitter"} {
		require.ErrorContains(t, err, want)
	}
}

// TestSnooze: a snoozed attempt sends the job back to waiting, due after
// the snooze, recorded as snoozed, and not counted against MaxAttempts.
func TestSnooze(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, jobs.Migrations...)
		clk := &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
		s := jobs.NewStore(db, clk.Now)
		nj := newJob("flow:wait", 1, "account/1")
		nj.Policy.MaxAttempts = 2
		_, err := s.Enqueue(ctx, db, []jobs.NewJob{nj})
		require.NoError(t, err)

		// More snoozes than MaxAttempts: none counts.
		for i := range 3 {
			got, err := s.Claim(ctx, "p", 1, time.Minute)
			require.NoError(t, err)
			require.Len(t, got, 1, "snooze %d", i)
			require.Equal(t, 1, got[0].Attempts)
			require.Equal(t, i+1, got[0].Tries)
			j, err := s.Finish(ctx, got[0], "p", jobs.Outcome{Start: clk.Now(), Snooze: time.Hour})
			require.NoError(t, err)
			require.Equal(t, jobs.Waiting, j.Status)
			require.Zero(t, j.Attempts)
			require.Equal(t, clk.Now().Add(time.Hour), j.NextAttemptAt)
			stored, err := s.Get(ctx, j.ID)
			require.NoError(t, err)
			require.Equal(t, jobs.Waiting, stored.Status)
			require.Zero(t, stored.Attempts)
			require.Empty(t, stored.Owner)
			require.Empty(t, stored.LastError)

			got, err = s.Claim(ctx, "p", 1, time.Minute)
			require.NoError(t, err)
			require.Empty(t, got, "not due before the snooze ends")
			clk.Add(time.Hour)
		}

		// Then a failure and a success: two attempts, within MaxAttempts 2.
		got, err := s.Claim(ctx, "p", 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		j, err := s.Finish(ctx, got[0], "p", jobs.Outcome{Start: clk.Now(), Err: errors.New("boom"), Retryable: true})
		require.NoError(t, err)
		require.Equal(t, jobs.Waiting, j.Status)
		clk.Add(time.Minute)
		got, err = s.Claim(ctx, "p", 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 2, got[0].Attempts)
		require.Equal(t, 5, got[0].Tries)
		j, err = s.Finish(ctx, got[0], "p", jobs.Outcome{Start: clk.Now()})
		require.NoError(t, err)
		require.Equal(t, jobs.Succeeded, j.Status)

		atts, err := s.Attempts(ctx, j.ID)
		require.NoError(t, err)
		var results []jobs.AttemptResult
		var numbers []int
		for _, a := range atts {
			results = append(results, a.Result)
			numbers = append(numbers, a.Number)
		}
		require.Equal(t, []jobs.AttemptResult{jobs.AttemptSnoozed, jobs.AttemptSnoozed, jobs.AttemptSnoozed, jobs.AttemptFailed, jobs.AttemptSucceeded}, results)
		require.Equal(t, []int{1, 2, 3, 4, 5}, numbers)

		// A snooze with an error is a failure.
		_, err = s.Enqueue(ctx, db, []jobs.NewJob{newJob("flow:wait", 2, "account/1")})
		require.NoError(t, err)
		got, err = s.Claim(ctx, "p", 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		j, err = s.Finish(ctx, got[0], "p", jobs.Outcome{Start: clk.Now(), Err: errors.New("bad"), Snooze: time.Hour})
		require.NoError(t, err)
		require.Equal(t, jobs.Failed, j.Status)
		require.Equal(t, 1, j.Attempts)
	})
}

// TestRetryNumbersAttemptsOn: attempts after a manual retry are recorded
// after the earlier ones, not over them.
func TestRetryNumbersAttemptsOn(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, jobs.Migrations...)
		s := jobs.NewStore(db, nil)
		_, err := s.Enqueue(ctx, db, []jobs.NewJob{newJob("step:r", 1, "x")})
		require.NoError(t, err)
		got, err := s.Claim(ctx, "p", 1, time.Minute)
		require.NoError(t, err)
		j, err := s.Finish(ctx, got[0], "p", jobs.Outcome{Start: time.Now(), Err: errors.New("no")})
		require.NoError(t, err)
		require.Equal(t, jobs.Failed, j.Status)
		_, err = s.Retry(ctx, j.ID)
		require.NoError(t, err)
		got, err = s.Claim(ctx, "p", 1, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		_, err = s.Finish(ctx, got[0], "p", jobs.Outcome{Start: time.Now()})
		require.NoError(t, err)
		atts, err := s.Attempts(ctx, j.ID)
		require.NoError(t, err)
		require.Len(t, atts, 2)
		require.Equal(t, jobs.AttemptFailed, atts[0].Result)
		require.Equal(t, jobs.AttemptSucceeded, atts[1].Result)
	})
}

// TestExtendAndRelease: ExtendAll moves the leases of the jobs the owner
// holds and reports the others; Release gives unstarted claims back,
// their claim not counted.
func TestExtendAndRelease(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, jobs.Migrations...)
		clk := &clock{now: time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)}
		s := jobs.NewStore(db, clk.Now)
		mine, err := s.EnqueueClaimed(ctx, db, "p", time.Minute, []jobs.NewJob{newJob("step:a", 1, "x"), newJob("step:a", 2, "y")})
		require.NoError(t, err)
		require.Len(t, mine, 2)
		require.Equal(t, jobs.Running, mine[0].Status)
		require.Equal(t, 1, mine[0].Attempts)
		again, err := s.EnqueueClaimed(ctx, db, "q", time.Minute, []jobs.NewJob{newJob("step:a", 1, "x")})
		require.NoError(t, err)
		require.Empty(t, again, "another process's enqueue of the same event creates nothing")
		_, err = s.Cancel(ctx, mine[1].ID)
		require.NoError(t, err)

		clk.Add(30 * time.Second)
		until, held, err := s.ExtendAll(ctx, []uuid.UUID{mine[0].ID, mine[1].ID}, "p", time.Minute)
		require.NoError(t, err)
		require.Equal(t, clk.Now().Add(time.Minute), until)
		require.Equal(t, map[uuid.UUID]bool{mine[0].ID: true}, held)
		clk.Add(45 * time.Second)
		got, err := s.Claim(ctx, "q", 10, time.Minute)
		require.NoError(t, err)
		require.Empty(t, got, "the extended lease holds")

		require.NoError(t, s.Release(ctx, []uuid.UUID{mine[0].ID}, "p"))
		j, err := s.Get(ctx, mine[0].ID)
		require.NoError(t, err)
		require.Equal(t, jobs.Waiting, j.Status)
		require.Zero(t, j.Attempts)
		require.Empty(t, j.Owner)
		got, err = s.Claim(ctx, "q", 10, time.Minute)
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Equal(t, 1, got[0].Attempts)
		require.Equal(t, 1, got[0].Tries)
		_, err = s.Finish(ctx, mine[0], "p", jobs.Outcome{Start: clk.Now()})
		require.ErrorIs(t, err, jobs.ErrLeaseLost, "released: no longer p's")
	})
}
