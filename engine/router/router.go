// Package router runs everything asynchronous from the event log: each
// subscriber (an async step, an endpoint step, later a flow) follows the
// log with its own durable offset through a watermill Router, turning the
// events it receives into jobs (package jobs), which a pool of workers
// claims and runs, retrying them per their policy. One slow or failing
// subscriber delays no other: its offset and its jobs are its own.
//
// The path of an event:
//
//	commit → the log wakes the LogSource → the subscriber's handler
//	enqueues a job (and the batch's offset is stored) → a worker claims
//	the job (a lease), runs it with the Runner of its kind, and records
//	the outcome: succeeded, retried later, or failed and dead-lettered
//
// Several processes on one PostgreSQL share the work: each job is claimed
// by one of them at a time, and a crashed process's jobs are claimed again
// when their leases end.
package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/storage"
)

// Subscription is one async subscriber.
type Subscription struct {
	// Name is unique, e.g. "step:audit purchase"; it names the subscriber's
	// log offset and its jobs.
	Name string
	// Kind chooses the Runner: "step", "endpoint".
	Kind string
	// Target is what runs: a step's name.
	Target string
	// Ordered runs the events of one stream (row) one at a time, in order.
	Ordered bool
	// OrderKey, for an Ordered subscriber, is what events run one at a
	// time by instead of their stream (e.g. a customer id a custom API's
	// events carry, for a flow that reads and writes the customer); the
	// jobs' StreamID holds it. An empty key falls back to the stream.
	OrderKey func(ev eventlog.Event) string
	Policy   jobs.Policy
	// Match says whether the subscriber receives an event.
	Match func(ev eventlog.Event) bool
}

// Runner runs one attempt of a job on its event.
type Runner interface {
	Run(ctx context.Context, j jobs.Job, ev eventlog.Event) jobs.Outcome
}

// RunnerFunc adapts a function to a Runner.
type RunnerFunc func(ctx context.Context, j jobs.Job, ev eventlog.Event) jobs.Outcome

// Run calls f.
func (f RunnerFunc) Run(ctx context.Context, j jobs.Job, ev eventlog.Event) jobs.Outcome {
	return f(ctx, j, ev)
}

// Defaults for [Config].
const (
	DefaultWorkers       = 8
	DefaultLease         = 2 * time.Minute
	DefaultPollInterval  = time.Second
	DefaultBatchSize     = 500
	DefaultRetention     = 7 * 24 * time.Hour
	DefaultCleanupPeriod = time.Hour
)

// Config configures a [Router]. Zero fields take the defaults.
type Config struct {
	// Owner names this process in leases; default host, pid and a random
	// suffix.
	Owner string
	// Workers is how many jobs run at once. Default [DefaultWorkers].
	Workers int
	// PerSubscriber is how many of the workers one subscriber's jobs may
	// hold, so that a slow or hanging subscriber leaves the others
	// workers. Default half the workers, at least 1.
	PerSubscriber int
	// Lease is how long a claimed job is this process's; a running job's
	// lease is extended while it runs. Default [DefaultLease].
	Lease time.Duration
	// PollInterval is how often workers look for due jobs (retries, other
	// processes' jobs) when nothing woke them. Default [DefaultPollInterval].
	PollInterval time.Duration
	// BatchSize is how many events a subscriber reads at a time. Default
	// [DefaultBatchSize].
	BatchSize int
	// Retention is how long succeeded jobs are kept; failed ones are kept
	// until retried or canceled. Default [DefaultRetention].
	Retention time.Duration
	// Now is the clock. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.Owner == "" {
		host, _ := os.Hostname()
		var b [4]byte
		_, _ = rand.Read(b[:])
		c.Owner = host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
	}
	if c.Workers <= 0 {
		c.Workers = DefaultWorkers
	}
	if c.PerSubscriber <= 0 {
		c.PerSubscriber = max(c.Workers/2, 1)
	}
	if c.Lease <= 0 {
		c.Lease = DefaultLease
	}
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.Retention <= 0 {
		c.Retention = DefaultRetention
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Router follows the log for its subscriptions and runs their jobs.
type Router struct {
	db      storage.DB
	jobs    *jobs.Store
	runners map[string]Runner
	cfg     Config
	log     *slog.Logger

	wm     *message.Router
	source *LogSource
	keep   *idle

	mu       sync.Mutex
	subs     map[string]Subscription
	handlers map[string]*message.Handler
	runCtx   context.Context
	cancel   context.CancelFunc
	done     chan struct{}
	wake     chan struct{}
	wg       sync.WaitGroup
	// outcomes carries finished attempts to the finisher, which records
	// them in batches.
	outcomes chan jobs.Finished
	// holds counts the jobs of each subscriber created claimed by this
	// process and not finished.
	holds *holds

	// The dispatcher's state, under dmu: the claimed jobs queued per
	// subscriber, the subscribers with queued jobs in turn, the jobs
	// running per subscriber, every claimed job by id.
	dmu      sync.Mutex
	queued   map[string][]*task
	turns    []string
	nQueued  int
	busy     map[string]int
	inFlight int
	tasks    map[uuid.UUID]*task
	stopped  bool
	running  sync.WaitGroup
	// claimSoon asks the dispatcher for a claim before its next poll.
	claimSoon atomic.Bool
}

// New makes a router over db's log and jobs, running each job kind with
// its runner. Start it; Sync gives it its subscriptions.
func New(db storage.DB, store *jobs.Store, runners map[string]Runner, cfg Config) (*Router, error) {
	cfg = cfg.WithDefaults()
	r := &Router{db: db, jobs: store, runners: runners, cfg: cfg, log: cfg.Logger.With("component", "router"),
		subs: map[string]Subscription{}, handlers: map[string]*message.Handler{}, wake: make(chan struct{}, 1), keep: newIdle(),
		outcomes: make(chan jobs.Finished, 4*cfg.Workers), holds: newHolds(),
		queued: map[string][]*task{}, busy: map[string]int{}, tasks: map[uuid.UUID]*task{}}
	wm, err := message.NewRouter(message.RouterConfig{CloseTimeout: 10 * time.Second}, watermill.NewSlogLogger(r.log))
	if err != nil {
		return nil, err
	}
	r.wm = wm
	r.source = NewLogSource(db.Log(), cfg.BatchSize, r.match)
	wm.AddConsumerHandler("router.keepalive", "keepalive", r.keep, func(*message.Message) error { return nil })
	return r, nil
}

// Jobs returns the router's job store.
func (r *Router) Jobs() *jobs.Store { return r.jobs }

// Start runs the watermill router, the workers and the cleanup until Stop
// or ctx is done.
func (r *Router) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.runCtx != nil {
		r.mu.Unlock()
		return errors.New("router: already started")
	}
	r.runCtx, r.cancel = context.WithCancel(ctx)
	r.done = make(chan struct{})
	runCtx := r.runCtx
	r.mu.Unlock()

	go func() {
		defer close(r.done)
		if err := r.wm.Run(runCtx); err != nil {
			r.log.ErrorContext(runCtx, "watermill router stopped", "err", err)
		}
	}()
	select {
	case <-r.wm.Running():
	case <-r.done:
		return errors.New("router: watermill did not start")
	}
	r.wg.Add(3)
	go r.dispatch(runCtx)
	go r.finisher()
	go r.cleanup(runCtx)
	r.log.InfoContext(ctx, "router started", "owner", r.cfg.Owner, "workers", r.cfg.Workers)
	return nil
}

// Stop stops following the log and claiming jobs, and waits (at most
// until ctx is done) for running jobs to finish.
func (r *Router) Stop(ctx context.Context) error {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	errc := make(chan error, 1)
	go func() {
		err := r.wm.Close()
		_ = r.source.Close()
		_ = r.keep.Close()
		r.wg.Wait()
		<-done
		errc <- err
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Sync makes the router's subscriptions exactly subs: new ones start
// following the log from their stored offset (from the start of the log
// the first time, their Match choosing what they receive), removed ones
// stop; their jobs stay.
func (r *Router) Sync(subs []Subscription) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	want := map[string]Subscription{}
	for _, s := range subs {
		if s.Name == "" || s.Match == nil {
			return fmt.Errorf("router: subscription %q needs a name and a match", s.Name)
		}
		if _, ok := r.runners[s.Kind]; !ok {
			return fmt.Errorf("router: subscription %s: no runner for kind %q", s.Name, s.Kind)
		}
		want[s.Name] = s
	}
	for name, s := range want {
		r.subs[name] = s
		if _, ok := r.handlers[name]; !ok {
			r.handlers[name] = r.wm.AddConsumerHandler("subscriber "+name, name, r.source, r.enqueue)
		}
	}
	for name, h := range r.handlers {
		if _, ok := want[name]; !ok {
			delete(r.subs, name)
			delete(r.handlers, name)
			select {
			case <-h.Started():
				h.Stop()
			default:
			}
		}
	}
	if r.runCtx != nil {
		return r.wm.RunHandlers(r.runCtx)
	}
	return nil
}

// Subscriptions returns the current subscriptions, by name.
func (r *Router) Subscriptions() []Subscription {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Subscription, 0, len(r.subs))
	for _, s := range r.subs {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Subscription) int {
		if a.Name < b.Name {
			return -1
		}
		if a.Name > b.Name {
			return 1
		}
		return 0
	})
	return out
}

func (r *Router) subscription(name string) (Subscription, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.subs[name]
	return s, ok
}

// match is the LogSource's filter.
func (r *Router) match(topic string, ev eventlog.Event) bool {
	s, ok := r.subscription(topic)
	return ok && s.Match(ev)
}

// enqueue turns a message of the log (a batch of events) into jobs of its
// subscriber, in one transaction.
//
// The jobs of a subscriber that is not ordered are created claimed by
// this process and handed to the dispatcher with their events: no claim's
// round trip, and no read of the events back, between commit and run. So
// that a subscriber does not claim more than this process runs soon (its
// jobs would wait in memory while other processes are idle), a batch
// waits while the subscriber's jobs held here would exceed
// [Router.holdCap]; only this subscriber's follower waits. An ordered
// subscriber's jobs wait in the table, where Claim keeps each row's order.
func (r *Router) enqueue(msg *message.Message) error {
	evs, ok := EventsOf(msg)
	if !ok {
		return fmt.Errorf("router: message %s carries no events", msg.UUID)
	}
	name := message.SubscribeTopicFromCtx(msg.Context())
	s, ok := r.subscription(name)
	if !ok {
		return nil // removed meanwhile
	}
	ctx := msg.Context()
	batch := make([]jobs.NewJob, len(evs))
	for i, ev := range evs {
		batch[i] = newJob(s, ev, "")
	}
	if s.Ordered {
		if _, err := r.jobs.Enqueue(ctx, r.db, batch); err != nil {
			return err
		}
		r.signalClaim()
		return nil
	}
	if err := r.holds.acquire(ctx, s.Name, len(batch), r.holdCap()); err != nil {
		return err
	}
	adopted, err := r.jobs.EnqueueClaimed(ctx, r.db, r.cfg.Owner, r.cfg.Lease, batch)
	if err != nil {
		r.holds.release(s.Name, len(batch))
		return err
	}
	// Jobs another process created first are its own.
	r.holds.release(s.Name, len(batch)-len(adopted))
	if len(adopted) == 0 {
		return nil
	}
	byPos := make(map[int64]*eventlog.Event, len(evs))
	for i := range evs {
		byPos[evs[i].Position] = &evs[i]
	}
	ts := make([]*task, len(adopted))
	for i, j := range adopted {
		ts[i] = &task{job: j, event: byPos[j.Position], lease: j.LeaseUntil, held: true}
	}
	if !r.queue(ts) {
		// The dispatcher has stopped: give the jobs back at once.
		r.holds.release(s.Name, len(ts))
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := r.jobs.Release(rctx, taskIDs(ts), r.cfg.Owner); err != nil {
			r.log.WarnContext(ctx, "release jobs", "count", len(ts), "err", err)
		}
		return nil
	}
	r.signal()
	return nil
}

// holdCap is how many jobs of one subscriber this process holds at most
// (claimed, not finished): two batches, so that the next is enqueued while
// the last runs, and some. (One batch left the workers idle during each
// enqueue: 20-25% fewer events/s.)
func (r *Router) holdCap() int { return 2*r.cfg.BatchSize + 2*r.cfg.PerSubscriber }

func newJob(s Subscription, ev eventlog.Event, replay string) jobs.NewJob {
	stream := ev.StreamID
	if s.Ordered && s.OrderKey != nil {
		if k := s.OrderKey(ev); k != "" {
			stream = k
		}
	}
	return jobs.NewJob{Subscriber: s.Name, Kind: s.Kind, Target: s.Target, Position: ev.Position, EventID: ev.ID,
		StreamID: stream, EventType: ev.Type, CorrelationID: ev.Metadata.CorrelationID, Ordered: s.Ordered,
		Replay: replay, Policy: s.Policy}
}

// signalClaim wakes the dispatcher to claim: jobs may be due.
func (r *Router) signalClaim() {
	r.claimSoon.Store(true)
	r.signal()
}

// signal wakes the dispatcher to start queued jobs.
func (r *Router) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// task is a job this process claimed, queued or running.
type task struct {
	job jobs.Job
	// event is the job's event, when it is in hand.
	event *eventlog.Event
	// lease is when the claim ends unless extended.
	lease time.Time
	// held: counted in the router's holds (created claimed by enqueue).
	held bool
	// cancel, set once running, stops the attempt (its lease was lost).
	cancel context.CancelFunc
}

func taskIDs(ts []*task) []uuid.UUID {
	ids := make([]uuid.UUID, len(ts))
	for i, t := range ts {
		ids[i] = t.job.ID
	}
	return ids
}

// queue adds claimed jobs to the dispatcher's queues; false when the
// dispatcher has stopped.
func (r *Router) queue(ts []*task) bool {
	r.dmu.Lock()
	defer r.dmu.Unlock()
	if r.stopped {
		return false
	}
	for _, t := range ts {
		sub := t.job.Subscriber
		if len(r.queued[sub]) == 0 {
			r.turns = append(r.turns, sub)
		}
		r.queued[sub] = append(r.queued[sub], t)
		r.tasks[t.job.ID] = t
		r.nQueued++
	}
	return true
}

// dispatch runs the queued jobs, each on a goroutine of its own, at most
// Workers at once and PerSubscriber of one subscriber's, taking turns
// between subscribers; it claims due jobs (retries, ordered subscribers',
// other processes' whose lease ended) when the queues run low, into
// queues of up to twice the workers (a claim is a transaction: claiming
// one job per free worker would make the claim the bottleneck); and it
// keeps the leases of the jobs it holds.
func (r *Router) dispatch(ctx context.Context) {
	defer r.wg.Done()
	defer close(r.outcomes) // after the running attempts have sent theirs
	defer r.running.Wait()
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	leases := time.NewTicker(r.cfg.Lease / 4)
	defer leases.Stop()
	// want says a claim is due: at start, at each poll, when told (jobs
	// may have become due: an ordered subscriber's next, a replay's), and
	// again while claims come back full.
	want := true
	extended := time.Now()
	for {
		if time.Since(extended) >= r.cfg.Lease/4 {
			// Also here: a busy loop may not reach the ticker in time.
			r.extendLeases(ctx)
			extended = time.Now()
		}
		r.startReady(ctx)
		if r.claimSoon.Swap(false) {
			want = true
		}
		if want {
			if room, skip := r.claimRoom(); room > 0 {
				want = false
				claimed, err := r.jobs.Claim(ctx, r.cfg.Owner, room, r.cfg.Lease, skip...)
				if err != nil && ctx.Err() == nil {
					r.log.WarnContext(ctx, "claim jobs", "err", err)
				}
				if len(claimed) > 0 {
					want = len(claimed) == room
					r.queue(r.events(ctx, claimed))
					continue
				}
			}
		}
		select {
		case <-ctx.Done():
			r.stopDispatch()
			return
		case <-r.wake:
		case <-tick.C:
			want = true
		case <-leases.C:
			r.extendLeases(ctx)
			extended = time.Now()
		}
	}
}

// startReady starts what the workers and the per-subscriber share allow,
// one job per subscriber in turn.
func (r *Router) startReady(ctx context.Context) {
	r.dmu.Lock()
	defer r.dmu.Unlock()
	now := r.cfg.Now()
	for r.inFlight < r.cfg.Workers && len(r.turns) > 0 {
		started := false
		for k := 0; k < len(r.turns) && r.inFlight < r.cfg.Workers; {
			sub := r.turns[k]
			if r.busy[sub] >= r.cfg.PerSubscriber {
				k++
				continue
			}
			q := r.queued[sub]
			t := q[0]
			q[0] = nil
			r.queued[sub] = q[1:]
			r.nQueued--
			if len(r.queued[sub]) == 0 {
				delete(r.queued, sub)
				r.turns = slices.Delete(r.turns, k, k+1)
			} else {
				k++
			}
			if !t.lease.After(now) {
				// The claim may have passed to another process: not ours
				// to run. Claim takes it again if it is due.
				r.forget(t)
				started = true
				continue
			}
			started = true
			r.busy[sub]++
			r.inFlight++
			actx, cancel := context.WithCancel(ctx)
			t.cancel = cancel
			r.running.Add(1)
			go r.run(actx, t)
		}
		if !started {
			break
		}
	}
}

// forget drops a task; dmu is held.
func (r *Router) forget(t *task) {
	if r.tasks[t.job.ID] == t { // not a later claim of the same job
		delete(r.tasks, t.job.ID)
	}
	if t.held {
		r.holds.release(t.job.Subscriber, 1)
	}
}

// claimRoom says how many jobs to claim, leaving out the subscribers that
// have their share running and queued: none while the queues hold enough
// for the workers.
func (r *Router) claimRoom() (int, []string) {
	r.dmu.Lock()
	defer r.dmu.Unlock()
	startable := 0
	for sub, q := range r.queued {
		if r.busy[sub] < r.cfg.PerSubscriber {
			startable += len(q)
			if startable >= r.cfg.Workers {
				return 0, nil
			}
		}
	}
	var skip []string
	for sub, q := range r.queued {
		if len(q)+r.busy[sub] >= 2*r.cfg.PerSubscriber {
			skip = append(skip, sub)
		}
	}
	for sub, n := range r.busy {
		if _, ok := r.queued[sub]; !ok && n >= 2*r.cfg.PerSubscriber {
			skip = append(skip, sub)
		}
	}
	return 2*r.cfg.Workers - startable, skip
}

// extendLeases extends the leases of the held jobs, queued or running,
// that end within half a lease; a job no longer ours is dropped, or its
// attempt canceled (a user canceled it, or it was taken over).
func (r *Router) extendLeases(ctx context.Context) {
	r.dmu.Lock()
	soon := r.cfg.Now().Add(r.cfg.Lease / 2)
	var ids []uuid.UUID
	for id, t := range r.tasks {
		if t.lease.Before(soon) {
			ids = append(ids, id)
		}
	}
	r.dmu.Unlock()
	if len(ids) == 0 {
		return
	}
	until, held, err := r.jobs.ExtendAll(ctx, ids, r.cfg.Owner, r.cfg.Lease)
	if err != nil {
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "extend leases", "count", len(ids), "err", err)
		}
		return
	}
	r.dmu.Lock()
	defer r.dmu.Unlock()
	for _, id := range ids {
		t, ok := r.tasks[id]
		if !ok {
			continue // finished meanwhile
		}
		switch {
		case held[id]:
			t.lease = until
		case t.cancel != nil:
			t.cancel()
		default:
			// Queued and lost: startReady drops it.
			t.lease = time.Time{}
		}
	}
}

// stopDispatch gives back the queued jobs no attempt started.
func (r *Router) stopDispatch() {
	r.dmu.Lock()
	r.stopped = true
	var ts []*task
	for _, q := range r.queued {
		for _, t := range q {
			ts = append(ts, t)
			r.forget(t)
		}
	}
	r.queued, r.turns, r.nQueued = map[string][]*task{}, nil, 0
	r.dmu.Unlock()
	if len(ts) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.jobs.Release(ctx, taskIDs(ts), r.cfg.Owner); err != nil {
		r.log.WarnContext(ctx, "release jobs", "count", len(ts), "err", err)
	}
}

// events reads the events of claimed jobs: a backlog's jobs are mostly
// of neighbouring positions, so a keyset read of their range serves many
// with one query; the others are read one by one when they run.
func (r *Router) events(ctx context.Context, claimed []jobs.Job) []*task {
	out := make([]*task, len(claimed))
	lo, hi := claimed[0].Position, claimed[0].Position
	for i, j := range claimed {
		out[i] = &task{job: j, lease: j.LeaseUntil}
		lo, hi = min(lo, j.Position), max(hi, j.Position)
	}
	if span := hi - lo + 1; span <= int64(4*len(claimed)) && span <= int64(r.cfg.BatchSize) {
		evs, err := r.db.Log().Read(ctx, eventlog.ReadQuery{After: lo - 1, Limit: int(span)})
		if err == nil {
			byPos := make(map[int64]*eventlog.Event, len(evs))
			for i := range evs {
				byPos[evs[i].Position] = &evs[i]
			}
			for _, t := range out {
				t.event = byPos[t.job.Position]
			}
		}
	}
	return out
}

// run runs one claimed job and hands its outcome to the finisher.
func (r *Router) run(ctx context.Context, t *task) {
	defer r.running.Done()
	start := r.cfg.Now()
	out := r.attempt(ctx, t)
	t.cancel()
	out.Start, out.Duration = start, r.cfg.Now().Sub(start)
	r.outcomes <- jobs.Finished{Job: t.job, Outcome: out}
	r.dmu.Lock()
	sub := t.job.Subscriber
	if r.busy[sub]--; r.busy[sub] == 0 {
		delete(r.busy, sub)
	}
	r.inFlight--
	r.forget(t)
	r.dmu.Unlock()
	r.signal()
}

// finisher records outcomes as they come, as many as are waiting in one
// transaction, until the dispatcher closes the channel; outcomes are
// recorded even while the router stops.
func (r *Router) finisher() {
	defer r.wg.Done()
	const maxBatch = 256
	batch := make([]jobs.Finished, 0, maxBatch)
	for first := range r.outcomes {
		batch = append(batch[:0], first)
	more:
		for len(batch) < maxBatch {
			select {
			case f, ok := <-r.outcomes:
				if !ok {
					break more
				}
				batch = append(batch, f)
			default:
				break more
			}
		}
		if r.record(batch) {
			r.signalClaim()
		}
	}
}

// record records outcomes, and says whether jobs may have become due:
// an ordered job's successor, a retry.
func (r *Router) record(batch []jobs.Finished) (due bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done, errs, err := r.jobs.FinishAll(ctx, r.cfg.Owner, batch)
	if err != nil {
		// Nothing was recorded: the jobs are claimed again when their
		// leases end, and run again (at least once).
		r.log.ErrorContext(ctx, "record job outcomes", "count", len(batch), "err", err)
		return false
	}
	for i, j := range done {
		due = due || j.Ordered || j.Status == jobs.Waiting
		switch {
		case errors.Is(errs[i], jobs.ErrLeaseLost):
			r.log.InfoContext(ctx, "job outcome dropped: no longer ours", "job", j.ID, "subscriber", j.Subscriber)
		case j.Status == jobs.Failed:
			r.log.WarnContext(ctx, "job failed", "job", j.ID, "subscriber", j.Subscriber, "position", j.Position,
				"attempts", j.Attempts, "dead_lettered", j.DeadLettered, "err", j.LastError)
		}
	}
	return due
}

// attempt runs the job's runner; the dispatcher keeps its lease and
// cancels ctx when the lease is lost.
func (r *Router) attempt(ctx context.Context, t *task) jobs.Outcome {
	j := t.job
	runner, ok := r.runners[j.Kind]
	if !ok {
		return jobs.Outcome{Err: fmt.Errorf("no runner for job kind %q", j.Kind)}
	}
	var ev eventlog.Event
	if t.event != nil {
		ev = *t.event
	} else {
		var err error
		if ev, err = r.event(ctx, j.Position); err != nil {
			return jobs.Outcome{Err: err, Retryable: true}
		}
	}
	return runner.Run(ctx, j, ev)
}

// event reads the event at a position.
func (r *Router) event(ctx context.Context, pos int64) (eventlog.Event, error) {
	evs, err := r.db.Log().Read(ctx, eventlog.ReadQuery{After: pos - 1, Limit: 1})
	if err != nil {
		return eventlog.Event{}, fmt.Errorf("read event %d: %w", pos, err)
	}
	if len(evs) == 0 || evs[0].Position != pos {
		return eventlog.Event{}, fmt.Errorf("event %d is not in the log", pos)
	}
	return evs[0], nil
}

// cleanup deletes succeeded jobs past the retention, now and then.
func (r *Router) cleanup(ctx context.Context) {
	defer r.wg.Done()
	t := time.NewTicker(DefaultCleanupPeriod)
	defer t.Stop()
	for {
		if n, err := r.jobs.Cleanup(ctx, r.cfg.Now().Add(-r.cfg.Retention)); err != nil && ctx.Err() == nil {
			r.log.WarnContext(ctx, "clean up jobs", "err", err)
		} else if n > 0 {
			r.log.InfoContext(ctx, "cleaned up succeeded jobs", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ReplayRequest is a past range of the log to deliver again to one
// subscriber. Positions are inclusive; zero bounds are open. Since and
// Until bound the events' times.
type ReplayRequest struct {
	Subscriber   string
	From, To     int64
	Since, Until time.Time
}

// Replay delivers a past range of the log to one subscriber again: a new
// job for each event in the range its Match keeps, marked with a replay
// id of its own, without touching any subscriber's offset. It returns the
// replay id and how many jobs it made.
func (r *Router) Replay(ctx context.Context, req ReplayRequest) (string, int, error) {
	s, ok := r.subscription(req.Subscriber)
	if !ok {
		return "", 0, &notFound{what: "subscriber " + req.Subscriber}
	}
	id := "replay-" + uuid.Must(uuid.NewV7()).String()
	after := max(req.From-1, 0)
	total := 0
	for {
		evs, err := r.db.Log().Read(ctx, eventlog.ReadQuery{After: after, Limit: r.cfg.BatchSize, Since: req.Since, Until: req.Until})
		if err != nil {
			return id, total, err
		}
		var batch []jobs.NewJob
		for _, ev := range evs {
			if req.To > 0 && ev.Position > req.To {
				break
			}
			if s.Match(ev) {
				batch = append(batch, newJob(s, ev, id))
			}
		}
		n, err := r.jobs.Enqueue(ctx, r.db, batch)
		total += n
		if err != nil {
			return id, total, err
		}
		if len(evs) < r.cfg.BatchSize || (req.To > 0 && evs[len(evs)-1].Position >= req.To) {
			break
		}
		after = evs[len(evs)-1].Position
	}
	r.signalClaim()
	return id, total, nil
}

type notFound struct{ what string }

func (e *notFound) Error() string           { return e.what + " does not exist" }
func (e *notFound) ErrorCode() errcode.Code { return errcode.NotFound }

// holds counts jobs per subscriber, and lets a caller wait for room.
type holds struct {
	mu sync.Mutex
	n  map[string]int
	// freed is closed, and replaced, when a count goes down.
	freed chan struct{}
}

func newHolds() *holds { return &holds{n: map[string]int{}, freed: make(chan struct{})} }

// acquire adds n to sub's count once it is zero or the sum is at most
// limit, or returns ctx's error.
func (h *holds) acquire(ctx context.Context, sub string, n, limit int) error {
	for {
		h.mu.Lock()
		if h.n[sub] == 0 || h.n[sub]+n <= limit {
			h.n[sub] += n
			h.mu.Unlock()
			return nil
		}
		freed := h.freed
		h.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release takes n from sub's count.
func (h *holds) release(sub string, n int) {
	if n <= 0 {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.n[sub] -= n; h.n[sub] <= 0 {
		delete(h.n, sub)
	}
	close(h.freed)
	h.freed = make(chan struct{})
}
