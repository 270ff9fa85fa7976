package router_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/router"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

// wait bounds every wait of these tests.
const wait = 30 * time.Second

var account = tables.Table{
	LogicalName: "account", PluralName: "accounts", PrimaryName: "name",
	Columns: []tables.Column{{LogicalName: "name", Type: tables.String, Required: true}, {LogicalName: "city", Type: tables.String}},
}

// recorder is an async step's Go handler that records what it ran.
type recorder struct {
	mu   sync.Mutex
	runs map[string][]pipeline.Execution // by step
	// fail, when set, decides whether a run fails.
	fail func(step string, ex *pipeline.Execution, n int) error
	// block, when set, holds runs of a step until it is closed.
	block map[string]chan struct{}
	// inFlight counts concurrent runs per event and step.
	inFlight map[string]int
	overlap  atomic.Int64
}

func newRecorder() *recorder {
	return &recorder{runs: map[string][]pipeline.Execution{}, block: map[string]chan struct{}{}, inFlight: map[string]int{}}
}

func (r *recorder) handler(step string) pipeline.Handler {
	return pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
		key := step + "/" + ex.ID.String()
		r.mu.Lock()
		r.inFlight[key]++
		if r.inFlight[key] > 1 {
			r.overlap.Add(1)
		}
		n := len(r.runs[step])
		r.runs[step] = append(r.runs[step], *ex)
		block := r.block[step]
		fail := r.fail
		r.mu.Unlock()
		defer func() { r.mu.Lock(); r.inFlight[key]--; r.mu.Unlock() }()
		if block != nil {
			select {
			case <-block:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if fail != nil {
			return fail(step, ex, n)
		}
		return nil
	})
}

func (r *recorder) count(step string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.runs[step])
}

// ids returns the row ids a step ran on, in run order.
func (r *recorder) ids(step string) []uuid.UUID {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []uuid.UUID
	for _, ex := range r.runs[step] {
		out = append(out, ex.ID)
	}
	return out
}

type bundle struct {
	db  storage.DB
	e   *pipeline.Engine
	rec *recorder
}

var fastRetry = jobs.Policy{MaxAttempts: 3, InitialDelay: 20 * time.Millisecond, MaxDelay: 100 * time.Millisecond, Multiplier: 2, Jitter: 0.1}

func setup(t *testing.T, open storagetest.Opener, steps ...string) *bundle {
	t.Helper()
	b := &bundle{rec: newRecorder()}
	b.db = open(t, append(append([]storage.Migration{}, tables.Migrations...), jobs.Migrations...)...)
	handlers := pipeline.HandlerMap{}
	var defs []pipeline.Step
	for _, s := range steps {
		handlers["go."+s] = b.rec.handler(s)
		defs = append(defs, pipeline.Step{Name: s, Message: pipeline.Create, Table: "account", Stage: pipeline.PostOperation,
			Mode: pipeline.Async, Handler: "go." + s, PostImages: []pipeline.Image{{Name: "after"}}})
	}
	b.e = pipeline.New(b.db, pipeline.Config{Handlers: handlers})
	d, err := pipeline.NewDefinitions([]tables.Table{account}, nil, defs)
	require.NoError(t, err)
	b.e.SetDefinitions(d)
	return b
}

func (b *bundle) router(t *testing.T, owner string, mod ...func(*router.Config)) *router.Router {
	t.Helper()
	cfg := router.Config{Owner: owner, Workers: 4, PollInterval: 20 * time.Millisecond, Lease: 3 * time.Second}
	for _, m := range mod {
		m(&cfg)
	}
	r, err := router.New(b.db, jobs.NewStore(b.db, nil), map[string]router.Runner{router.KindStep: router.StepRunner(b.e)}, cfg)
	require.NoError(t, err)
	require.NoError(t, r.Sync(router.StepSubscriptions(b.e.Definitions(), fastRetry)))
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() { _ = r.Stop(context.Background()) })
	return r
}

func (b *bundle) create(t *testing.T, name string) uuid.UUID {
	t.Helper()
	resp, err := b.e.Execute(context.Background(), pipeline.Request{Message: pipeline.Create, Table: "account", Target: map[string]any{"name": name, "city": "Oslo"}})
	require.NoError(t, err)
	return resp.ID
}

func (b *bundle) jobs(t *testing.T, f jobs.Filter) []jobs.Job {
	t.Helper()
	f.Limit = 10_000
	js, err := jobs.NewStore(b.db, nil).List(context.Background(), f)
	require.NoError(t, err)
	return js
}

func TestAsyncStepsRunAfterCommit(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open, "audit")
		b.router(t, "p1")
		ids := []uuid.UUID{b.create(t, "A"), b.create(t, "B"), b.create(t, "C")}
		require.Eventually(t, func() bool {
			return len(b.jobs(t, jobs.Filter{Status: []jobs.Status{jobs.Succeeded}})) == 3
		}, wait, 10*time.Millisecond)
		require.ElementsMatch(t, ids, b.rec.ids("audit"))

		// What the step saw: the event's message, async, its Target and
		// post image.
		b.rec.mu.Lock()
		ex := b.rec.runs["audit"][0]
		b.rec.mu.Unlock()
		require.Equal(t, pipeline.Create, ex.Message)
		require.Equal(t, pipeline.Async, ex.Mode)
		require.Equal(t, pipeline.PostOperation, ex.Stage)
		require.Equal(t, "account", ex.Table)
		require.NotNil(t, ex.Service)
		require.Equal(t, "Oslo", ex.PostImages["after"]["city"])
		require.Equal(t, "Oslo", ex.Target()["city"])
		js := b.jobs(t, jobs.Filter{})
		require.Len(t, js, 3)
		for _, j := range js {
			require.Equal(t, "step:audit", j.Subscriber)
			require.Equal(t, 1, j.Attempts)
			require.NotEmpty(t, j.CorrelationID)
		}
	})
}

func TestRetriesAndDeadLetter(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open, "flaky", "broken")
		b.rec.fail = func(step string, ex *pipeline.Execution, n int) error {
			if step == "broken" || n < 2 {
				return pipeline.Fail("the receiver is down (%s run %d)", step, n+1)
			}
			return nil
		}
		r := b.router(t, "p1")
		b.create(t, "A")
		require.Eventually(t, func() bool {
			return len(b.jobs(t, jobs.Filter{Status: []jobs.Status{jobs.Succeeded, jobs.Failed}})) == 2
		}, wait, 10*time.Millisecond)
		flaky := b.jobs(t, jobs.Filter{Subscriber: "step:flaky"})[0]
		require.Equal(t, jobs.Succeeded, flaky.Status)
		require.Equal(t, 3, flaky.Attempts, "two failures, then success")
		broken := b.jobs(t, jobs.Filter{Subscriber: "step:broken"})[0]
		require.Equal(t, jobs.Failed, broken.Status)
		require.True(t, broken.DeadLettered)
		require.Equal(t, 3, broken.Attempts)
		require.Contains(t, broken.LastError, "the receiver is down (broken run 3)")
		require.Equal(t, "handler_failed", broken.LastErrorCode)
		atts, err := r.Jobs().Attempts(context.Background(), broken.ID)
		require.NoError(t, err)
		require.Len(t, atts, 3)

		// A manual retry runs it again (and it fails again).
		_, err = r.Jobs().Retry(context.Background(), broken.ID)
		require.NoError(t, err)
		require.Eventually(t, func() bool { return b.rec.count("broken") == 6 }, wait, 10*time.Millisecond)
	})
}

// TestSlowSubscriberDelaysNoOther: a step that blocks does not hold up
// another step's jobs.
func TestSlowSubscriberDelaysNoOther(t *testing.T) {
	t.Parallel()
	b := setup(t, storagetest.SQLite, "slow", "fast")
	release := make(chan struct{})
	b.rec.block["slow"] = release
	b.router(t, "p1", func(c *router.Config) { c.Workers = 2 })
	for i := range 10 {
		b.create(t, fmt.Sprint("row", i))
	}
	require.Eventually(t, func() bool { return b.rec.count("fast") == 10 }, wait, 10*time.Millisecond)
	require.LessOrEqual(t, b.rec.count("slow"), 2, "the slow step holds at most the free workers")
	close(release)
	require.Eventually(t, func() bool { return b.rec.count("slow") == 10 }, wait, 10*time.Millisecond)
}

// TestLeasesOutlastSlowQueues: jobs claimed ahead of the workers, waiting
// longer than a lease for their turn, and jobs running longer than one,
// keep their leases: each runs once, and a second process running beside
// takes none of them over.
func TestLeasesOutlastSlowQueues(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open, "slow")
		b.rec.fail = func(string, *pipeline.Execution, int) error {
			time.Sleep(700 * time.Millisecond)
			return nil
		}
		short := func(c *router.Config) { c.Lease, c.Workers, c.PerSubscriber = time.Second, 1, 1 }
		b.router(t, "p1", short)
		const total = 4
		for i := range total {
			b.create(t, fmt.Sprint("row", i))
		}
		require.Eventually(t, func() bool { return len(b.jobs(t, jobs.Filter{})) == total }, wait, 10*time.Millisecond)
		if b.db.Dialect() == storage.Postgres {
			b.router(t, "p2", short) // would take over any lease that ended
		}
		require.Eventually(t, func() bool {
			return len(b.jobs(t, jobs.Filter{Status: []jobs.Status{jobs.Succeeded}})) == total
		}, wait, 20*time.Millisecond)
		require.Equal(t, total, b.rec.count("slow"), "each job ran once")
		for _, j := range b.jobs(t, jobs.Filter{}) {
			require.Equal(t, 1, j.Attempts)
		}
	})
}

// TestRestartResumes: events committed while no router runs are run by the
// next one, each once.
func TestRestartResumes(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open, "audit")
		r := b.router(t, "p1")
		b.create(t, "A")
		require.Eventually(t, func() bool { return b.rec.count("audit") == 1 }, wait, 10*time.Millisecond)
		require.NoError(t, r.Stop(context.Background()))
		for i := range 5 {
			b.create(t, fmt.Sprint("while-down-", i))
		}
		b.router(t, "p2")
		require.Eventually(t, func() bool {
			return len(b.jobs(t, jobs.Filter{Status: []jobs.Status{jobs.Succeeded}})) == 6
		}, wait, 10*time.Millisecond)
		require.Equal(t, 6, b.rec.count("audit"))
	})
}

// TestReplay delivers a range again to one subscriber.
func TestReplay(t *testing.T) {
	t.Parallel()
	b := setup(t, storagetest.SQLite, "audit", "other")
	r := b.router(t, "p1")
	for i := range 4 {
		b.create(t, fmt.Sprint("row", i))
	}
	require.Eventually(t, func() bool { return b.rec.count("audit") == 4 && b.rec.count("other") == 4 }, wait, 10*time.Millisecond)
	head := storagetest.SealedHead(t, b.db)
	id, n, err := r.Replay(context.Background(), router.ReplayRequest{Subscriber: "step:audit", From: head - 1, To: head})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Eventually(t, func() bool {
		var marked int
		for _, j := range b.jobs(t, jobs.Filter{Subscriber: "step:audit", Status: []jobs.Status{jobs.Succeeded}}) {
			if j.Replay == id {
				marked++
			}
		}
		return marked == 2
	}, wait, 10*time.Millisecond)
	require.Equal(t, 6, b.rec.count("audit"))
	require.Equal(t, 4, b.rec.count("other"), "other subscribers are not replayed")
	_, _, err = r.Replay(context.Background(), router.ReplayRequest{Subscriber: "step:nope"})
	require.ErrorContains(t, err, "does not exist")
}

// TestThreeProcessesShareTheWork runs three routers on one PostgreSQL
// database and stops one in the middle: every event's job succeeds, none
// runs twice at once, and the stopped router's claimed jobs are taken
// over when their leases end.
func TestThreeProcessesShareTheWork(t *testing.T) {
	t.Parallel()
	b := setup(t, storagetest.Postgres, "work")
	var busy atomic.Int64
	b.rec.fail = func(string, *pipeline.Execution, int) error {
		busy.Add(1)
		time.Sleep(2 * time.Millisecond)
		busy.Add(-1)
		return nil
	}
	short := func(c *router.Config) { c.Lease = 600 * time.Millisecond }
	r1, r2 := b.router(t, "p1", short), b.router(t, "p2", short)
	b.router(t, "p3", short)
	const total = 150
	for i := range total {
		b.create(t, fmt.Sprint("row", i))
		if i == total/3 {
			require.NoError(t, r1.Stop(context.Background()))
		}
	}
	require.Eventually(t, func() bool {
		return len(b.jobs(t, jobs.Filter{Status: []jobs.Status{jobs.Succeeded}})) == total
	}, wait, 20*time.Millisecond)
	require.Zero(t, b.rec.overlap.Load(), "a job ran twice at once")
	owners := map[string]bool{}
	for _, j := range b.jobs(t, jobs.Filter{}) {
		require.Equal(t, jobs.Succeeded, j.Status)
		owners[j.Owner] = true
	}
	atts := 0
	for _, j := range b.jobs(t, jobs.Filter{}) {
		a, err := r2.Jobs().Attempts(context.Background(), j.ID)
		require.NoError(t, err)
		atts += len(a)
		for _, x := range a {
			owners[x.Owner] = true
		}
	}
	// A job the stopped router was running when it stopped is attempted
	// again: at least once, never twice at once.
	require.GreaterOrEqual(t, atts, total)
	require.LessOrEqual(t, atts, total+4)
	require.GreaterOrEqual(t, len(owners), 2, "the processes shared the work: %v", owners)
	ids := b.rec.ids("work")
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	require.Len(t, slices.Compact(ids), total)
}

func TestSyncValidates(t *testing.T) {
	t.Parallel()
	b := setup(t, storagetest.SQLite, "audit")
	r, err := router.New(b.db, jobs.NewStore(b.db, nil), map[string]router.Runner{router.KindStep: router.StepRunner(b.e)}, router.Config{})
	require.NoError(t, err)
	require.ErrorContains(t, r.Sync([]router.Subscription{{Name: "x", Kind: "nope", Match: func(eventlog.Event) bool { return true }}}), `no runner for kind "nope"`)
	require.ErrorContains(t, r.Sync([]router.Subscription{{Name: "x", Kind: router.KindStep}}), "needs a name and a match")
	require.NoError(t, errors.Join(r.Stop(context.Background())))
}
