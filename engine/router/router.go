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
	Policy  jobs.Policy
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
	// adopt carries jobs the enqueuer created already claimed, with their
	// events, to the dispatcher; spare is how many it may create so, the
	// workers the dispatcher has free and nothing queued for.
	adopt chan []claimedJob
	spare atomic.Int64
}

// New makes a router over db's log and jobs, running each job kind with
// its runner. Start it; Sync gives it its subscriptions.
func New(db storage.DB, store *jobs.Store, runners map[string]Runner, cfg Config) (*Router, error) {
	cfg = cfg.WithDefaults()
	r := &Router{db: db, jobs: store, runners: runners, cfg: cfg, log: cfg.Logger.With("component", "router"),
		subs: map[string]Subscription{}, handlers: map[string]*message.Handler{}, wake: make(chan struct{}, 1), keep: newIdle(),
		outcomes: make(chan jobs.Finished, 4*cfg.Workers), adopt: make(chan []claimedJob, 16)}
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
	// With workers free and nothing queued, the first jobs are created
	// claimed by this process and handed to the dispatcher with their
	// events: no claim's round trip between commit and run.
	spare := 0
	if !s.Ordered {
		spare = int(min(r.spare.Load(), int64(len(evs)), int64(r.cfg.PerSubscriber)))
	}
	claimedNew := make([]jobs.NewJob, 0, spare)
	waiting := make([]jobs.NewJob, 0, len(evs)-spare)
	for i, ev := range evs {
		if i < spare {
			claimedNew = append(claimedNew, newJob(s, ev, ""))
		} else {
			waiting = append(waiting, newJob(s, ev, ""))
		}
	}
	ctx := msg.Context()
	var adopted []jobs.Job
	if err := storage.Run(ctx, r.db, func(tx storage.Tx) error {
		var err error
		if len(claimedNew) > 0 {
			if adopted, err = r.jobs.EnqueueClaimed(ctx, tx, r.cfg.Owner, r.cfg.Lease, claimedNew); err != nil {
				return err
			}
		}
		_, err = r.jobs.Enqueue(ctx, tx, waiting)
		return err
	}); err != nil {
		return err
	}
	if len(adopted) > 0 {
		byPos := make(map[int64]*eventlog.Event, len(evs))
		for i := range evs {
			byPos[evs[i].Position] = &evs[i]
		}
		cs := make([]claimedJob, len(adopted))
		for i, j := range adopted {
			cs[i] = claimedJob{job: j, event: byPos[j.Position]}
		}
		r.spare.Add(-int64(len(cs)))
		select {
		case r.adopt <- cs:
		case <-ctx.Done():
			// Claimed but not run: taken again when the leases end.
		}
	}
	r.signal()
	return nil
}

func newJob(s Subscription, ev eventlog.Event, replay string) jobs.NewJob {
	return jobs.NewJob{Subscriber: s.Name, Kind: s.Kind, Target: s.Target, Position: ev.Position, EventID: ev.ID,
		StreamID: ev.StreamID, EventType: ev.Type, CorrelationID: ev.Metadata.CorrelationID, Ordered: s.Ordered,
		Replay: replay, Policy: s.Policy}
}

// signal wakes the dispatcher.
func (r *Router) signal() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// dispatch claims due jobs ahead of the workers, into a local queue of up
// to twice the workers (a claim is a transaction, so claiming one job per
// free worker would make the claim the bottleneck), and runs each on a
// goroutine of its own, at most Workers at once and PerSubscriber of one
// subscriber's.
func (r *Router) dispatch(ctx context.Context) {
	defer r.wg.Done()
	var running sync.WaitGroup
	defer close(r.outcomes) // after the running attempts have sent theirs
	defer running.Wait()
	var mu sync.Mutex
	busy := map[string]int{} // running jobs by subscriber
	inFlight := 0
	var pending []claimedJob
	tick := time.NewTicker(r.cfg.PollInterval)
	defer tick.Stop()
	for {
		// Start what the workers and the per-subscriber share allow.
		mu.Lock()
		for k := 0; k < len(pending) && inFlight < r.cfg.Workers; {
			c := pending[k]
			j := c.job
			if busy[j.Subscriber] >= r.cfg.PerSubscriber {
				k++
				continue
			}
			pending = slices.Delete(pending, k, k+1)
			busy[j.Subscriber]++
			inFlight++
			running.Add(1)
			go func() {
				defer func() {
					mu.Lock()
					if busy[j.Subscriber]--; busy[j.Subscriber] == 0 {
						delete(busy, j.Subscriber)
					}
					inFlight--
					mu.Unlock()
					running.Done()
					r.signal()
				}()
				r.run(ctx, c)
			}()
		}
		// Claim more when the queue runs below the workers, in one claim
		// of at least as many, leaving out the subscribers that have
		// their share running and queued.
		startable := 0
		for _, c := range pending {
			if busy[c.job.Subscriber] < r.cfg.PerSubscriber {
				startable++
			}
		}
		r.spare.Store(int64(max(r.cfg.Workers-inFlight-len(pending), 0)))
		room := 0
		if startable < r.cfg.Workers {
			room = 2*r.cfg.Workers - startable
		}
		var skip []string
		if room > 0 {
			queued := map[string]int{}
			for _, c := range pending {
				queued[c.job.Subscriber]++
			}
			for sub, n := range busy {
				queued[sub] += n
			}
			for sub, n := range queued {
				if n >= 2*r.cfg.PerSubscriber {
					skip = append(skip, sub)
				}
			}
		}
		mu.Unlock()
		if room > 0 {
			claimed, err := r.jobs.Claim(ctx, r.cfg.Owner, room, r.cfg.Lease, skip...)
			if err != nil && ctx.Err() == nil {
				r.log.WarnContext(ctx, "claim jobs", "err", err)
			}
			if len(claimed) > 0 {
				withEvents := r.events(ctx, claimed)
				mu.Lock()
				pending = append(pending, withEvents...)
				mu.Unlock()
				continue
			}
		}
		select {
		case <-ctx.Done():
			// Jobs claimed but not started go back when their leases end.
			r.spare.Store(0)
			return
		case cs := <-r.adopt:
			mu.Lock()
			pending = append(pending, cs...)
			mu.Unlock()
		case <-r.wake:
		case <-tick.C:
		}
	}
}

// claimedJob is a claimed job and its event, when it was read.
type claimedJob struct {
	job   jobs.Job
	event *eventlog.Event
}

// events reads the events of claimed jobs: a backlog's jobs are mostly
// of neighbouring positions, so a keyset read of their range serves many
// with one query; the others are read one by one when they run.
func (r *Router) events(ctx context.Context, claimed []jobs.Job) []claimedJob {
	out := make([]claimedJob, len(claimed))
	lo, hi := claimed[0].Position, claimed[0].Position
	for i, j := range claimed {
		out[i].job = j
		lo, hi = min(lo, j.Position), max(hi, j.Position)
	}
	if span := hi - lo + 1; span <= int64(4*len(claimed)) && span <= int64(r.cfg.BatchSize) {
		evs, err := r.db.Log().Read(ctx, eventlog.ReadQuery{After: lo - 1, Limit: int(span)})
		if err == nil {
			byPos := make(map[int64]*eventlog.Event, len(evs))
			for i := range evs {
				byPos[evs[i].Position] = &evs[i]
			}
			for i := range out {
				out[i].event = byPos[out[i].job.Position]
			}
		}
	}
	return out
}

// run runs one claimed job and hands its outcome to the finisher.
func (r *Router) run(ctx context.Context, c claimedJob) {
	start := r.cfg.Now()
	out := r.attempt(ctx, c)
	out.Start, out.Duration = start, r.cfg.Now().Sub(start)
	r.outcomes <- jobs.Finished{Job: c.job, Outcome: out}
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
		r.record(batch)
		r.signal() // ordered jobs may be claimable now
	}
}

func (r *Router) record(batch []jobs.Finished) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done, errs, err := r.jobs.FinishAll(ctx, r.cfg.Owner, batch)
	if err != nil {
		// Nothing was recorded: the jobs are claimed again when their
		// leases end, and run again (at least once).
		r.log.ErrorContext(ctx, "record job outcomes", "count", len(batch), "err", err)
		return
	}
	for i, j := range done {
		switch {
		case errors.Is(errs[i], jobs.ErrLeaseLost):
			r.log.InfoContext(ctx, "job outcome dropped: no longer ours", "job", j.ID, "subscriber", j.Subscriber)
		case j.Status == jobs.Failed:
			r.log.WarnContext(ctx, "job failed", "job", j.ID, "subscriber", j.Subscriber, "position", j.Position,
				"attempts", j.Attempts, "dead_lettered", j.DeadLettered, "err", j.LastError)
		}
	}
}

// attempt runs the job's runner with its lease kept alive.
func (r *Router) attempt(ctx context.Context, c claimedJob) jobs.Outcome {
	j := c.job
	runner, ok := r.runners[j.Kind]
	if !ok {
		return jobs.Outcome{Err: fmt.Errorf("no runner for job kind %q", j.Kind)}
	}
	var ev eventlog.Event
	if c.event != nil {
		ev = *c.event
	} else {
		var err error
		if ev, err = r.event(ctx, j.Position); err != nil {
			return jobs.Outcome{Err: err, Retryable: true}
		}
	}
	actx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(r.cfg.Lease / 3)
		defer t.Stop()
		for {
			select {
			case <-actx.Done():
				return
			case <-t.C:
				if err := r.jobs.Extend(actx, j.ID, r.cfg.Owner, r.cfg.Lease); err != nil {
					if errors.Is(err, jobs.ErrLeaseLost) {
						cancel() // canceled by a user, or taken over
					}
					return
				}
			}
		}
	}()
	return runner.Run(actx, j, ev)
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
	r.signal()
	return id, total, nil
}

type notFound struct{ what string }

func (e *notFound) Error() string           { return e.what + " does not exist" }
func (e *notFound) ErrorCode() errcode.Code { return errcode.NotFound }
