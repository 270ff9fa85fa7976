package main

import (
	"github.com/bizevents/bizevents/engine/flows"

	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/router"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
)

// asyncRouter is serve's router: async steps and endpoint deliveries as
// jobs, kept in step with the engine's definitions and the imported
// solutions' endpoints.
type asyncRouter struct {
	r     *router.Router
	e     *pipeline.Engine
	flows *flows.Runtime
	log   *slog.Logger
	last  *pipeline.Definitions
	eps   *endpointSet
	// senders deliver the endpoint jobs; closed when the router stops.
	senders *senders

	cancel context.CancelFunc
	done   chan struct{}
}

// newAsyncRouter makes the router of an engine; start it with start.
// getenv reads the env:NAME values of endpoints.
func newAsyncRouter(e *pipeline.Engine, fl *flows.Runtime, getenv func(string) string, retention time.Duration, logger *slog.Logger) (*asyncRouter, error) {
	eps := &endpointSet{getenv: getenv}
	snd := newSenders(logger.With(logKeyComponent, "endpoints"))
	r, err := router.New(e.DB(), jobs.NewStore(e.DB(), nil), asyncRunners(e, fl, eps, snd), router.Config{Logger: logger, Retention: retention})
	if err != nil {
		_ = snd.close()
		return nil, err
	}
	return &asyncRouter{r: r, e: e, flows: fl, eps: eps, senders: snd, log: logger.With(logKeyComponent, "router")}, nil
}

// senders are the endpoint kinds' senders: one HTTP client, one broker
// connection per queue and stream URL, opened at the first delivery.
type senders struct {
	webhook *endpoints.Webhook
	queue   *endpoints.Queue
	stream  *endpoints.Stream
	kafka   *endpoints.Kafka
}

func newSenders(logger *slog.Logger) *senders {
	return &senders{
		webhook: endpoints.NewWebhook(endpoints.WebhookConfig{}),
		queue:   endpoints.NewQueue(endpoints.QueueConfig{Logger: logger}),
		stream:  endpoints.NewStream(endpoints.StreamConfig{Logger: logger}),
		kafka:   endpoints.NewKafka(endpoints.KafkaConfig{Logger: logger}),
	}
}

// close closes the broker connections and the idle HTTP ones; a delivery
// still running fails, to be retried.
func (s *senders) close() error {
	s.webhook.CloseIdleConnections()
	return errors.Join(s.queue.Close(), s.stream.Close(), s.kafka.Close())
}

// endpointSet is the imported solutions' endpoints, swapped whole when
// they change.
type endpointSet struct {
	getenv func(string) string
	defs   atomic.Pointer[map[string]solution.EndpointDef]
}

func (s *endpointSet) load(ctx context.Context, q storage.Querier) error {
	sols, err := solution.Imported(ctx, q)
	if err != nil {
		return err
	}
	m := solution.Endpoints(sols)
	s.defs.Store(&m)
	return nil
}

func (s *endpointSet) def(name string) (solution.EndpointDef, bool) {
	m := s.defs.Load()
	if m == nil {
		return solution.EndpointDef{}, false
	}
	d, ok := (*m)[name]
	return d, ok
}

// options are a step's retry policy and per-row order: its endpoint's,
// or the defaults.
func (s *endpointSet) options(step *pipeline.Step) (jobs.Policy, bool) {
	if d, ok := s.def(step.Endpoint); ok {
		if p, err := d.Policy(); err == nil {
			return p, d.Ordered
		}
		return jobs.Policy{}, d.Ordered
	}
	return jobs.Policy{}, false
}

// asyncRunners are the runners of each job kind.
func asyncRunners(e *pipeline.Engine, fl *flows.Runtime, eps *endpointSet, snd *senders) map[string]router.Runner {
	return map[string]router.Runner{
		flows.KindFlow:  fl.Runner(),
		router.KindStep: router.StepRunner(e),
		router.KindEndpoint: router.EndpointRunner(router.EndpointConfig{Engine: e, Environment: "bizevents",
			Webhook: snd.webhook, Queue: snd.queue, Stream: snd.stream, Kafka: snd.kafka,
			Endpoint: func(name string) (endpoints.Endpoint, bool) {
				d, ok := eps.def(name)
				if !ok {
					return endpoints.Endpoint{}, false
				}
				ep, _ := d.Endpoint(eps.getenv)
				return ep, true
			},
			// A missing variable fails the attempt with its name, and the
			// job is retried once it is set.
			Problem: func(name string) error {
				d, ok := eps.def(name)
				if !ok {
					return nil
				}
				_, err := d.Endpoint(eps.getenv)
				return err
			}}),
	}
}

// sync gives the router the subscriptions of the engine's definitions when
// they changed since the last call.
func (a *asyncRouter) sync() error {
	defs := a.e.Definitions()
	if defs == a.last {
		return nil
	}
	if err := a.eps.load(context.Background(), a.e.DB()); err != nil {
		return err
	}
	subs, err := subscriptions(context.Background(), a.e, a.flows, a.eps.options)
	if err != nil {
		return err
	}
	if err := a.r.Sync(subs); err != nil {
		return err
	}
	a.last = defs
	return nil
}

// subscriptions are the router's subscriptions: the async steps' of the
// engine's definitions, and the flows' of the imported solutions, which
// are compiled and handed to fl on the way.
func subscriptions(ctx context.Context, e *pipeline.Engine, fl *flows.Runtime, options func(*pipeline.Step) (jobs.Policy, bool)) ([]router.Subscription, error) {
	subs := router.StepSubscriptionsWith(e.Definitions(), options)
	sols, err := solution.Imported(ctx, e.DB())
	if err != nil {
		return nil, err
	}
	fs, defs, err := solution.CompileFlows(sols)
	if err != nil {
		return nil, fmt.Errorf("compile flows: %w", err)
	}
	fl.SetFlows(fs, defs)
	return append(subs, fl.Subscriptions()...), nil
}

// start starts the router and keeps its subscriptions in step with the
// definitions, checking every interval, until stop.
func (a *asyncRouter) start(ctx context.Context, interval time.Duration) error {
	if err := a.sync(); err != nil {
		return err
	}
	if err := a.r.Start(ctx); err != nil {
		return err
	}
	ctx, a.cancel = context.WithCancel(ctx)
	a.done = make(chan struct{})
	go func() {
		defer close(a.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := a.sync(); err != nil {
					a.log.WarnContext(ctx, "subscriptions", logKeyErr, err)
				}
			}
		}
	}()
	return nil
}

// stop stops the router, waiting for running jobs at most until ctx is
// done, then closes the endpoints' connections.
func (a *asyncRouter) stop(ctx context.Context) error {
	if a.cancel == nil {
		return nil
	}
	a.cancel()
	a.cancel = nil
	<-a.done
	err := a.r.Stop(ctx)
	// After the jobs: they deliver through the senders.
	return errors.Join(err, a.senders.close())
}

// jobsCommand is `bizevents jobs`: the async executions.
func jobsCommand() *command {
	return &command{
		name:    "jobs",
		summary: "list, show, retry and cancel the jobs that run async steps and deliveries",
		subs:    []*command{jobsListCommand(), jobsShowCommand(), jobsActionCommand("retry"), jobsActionCommand("cancel")},
	}
}

type jobsListOptions struct {
	DB     dbOptions
	Filter jobs.Filter
	JSON   bool
}

func jobsListCommand() *command {
	return &command{
		name:    "ls",
		summary: "list jobs, oldest first",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o jobsListOptions
			o.DB.register(fs, env, false)
			statusFlag(fs, &o.Filter.Status, "jobs")
			fs.StringVar(&o.Filter.Subscriber, "subscriber", "", "only the jobs of the `subscriber`, e.g. \"step:audit purchase\"")
			fs.StringVar(&o.Filter.CorrelationID, "correlation-id", "", "only the jobs of the correlation `id`")
			fs.BoolVar(&o.Filter.DeadLettered, "dead-letter", false, "only dead-lettered jobs")
			fs.Var(intValue{&o.Filter.Limit}, "limit", "at most `n` jobs (default 100)")
			fs.BoolVar(&o.JSON, "json", false, "print each job as a JSON line")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return listJobs(ctx, o, env)
			}
		},
	}
}

// statusFlag registers --status, repeatable or a comma list, adding to
// statuses; what names the listed things (jobs, runs).
func statusFlag(fs *flag.FlagSet, statuses *[]jobs.Status, what string) {
	fs.Func("status", "only "+what+" with this `status` (waiting, running, succeeded, failed, canceled; repeatable)", func(s string) error {
		for _, st := range appendList(nil, s) {
			*statuses = append(*statuses, jobs.Status(st))
		}
		return nil
	})
}

// listJobs prints the jobs o selects, one a line.
func listJobs(ctx context.Context, o jobsListOptions, env *cliEnv) error {
	return withJobs(ctx, o.DB, env.stderr, func(s *jobs.Store) error {
		list, err := s.List(ctx, o.Filter)
		if err != nil {
			return err
		}
		for _, j := range list {
			if err := printJob(env.stdout, j, o.JSON); err != nil {
				return err
			}
		}
		return nil
	})
}

func jobsShowCommand() *command {
	return &command{
		name:    "show",
		summary: "show a job and its attempts",
		args:    "JOBID",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o dbOptions
			o.register(fs, env, false)
			asJSON := fs.Bool("json", false, "print as JSON")
			return func(ctx context.Context, args []string) error {
				id, err := jobArg(args)
				if err != nil {
					return err
				}
				return withJobs(ctx, o, env.stderr, func(s *jobs.Store) error {
					j, err := s.Get(ctx, id)
					if err != nil {
						return err
					}
					atts, err := s.Attempts(ctx, id)
					if err != nil {
						return err
					}
					if *asJSON {
						return newJSONEncoder(env.stdout).Encode(jobJSON{Job: j, Attempts: atts})
					}
					if err := printJob(env.stdout, j, false); err != nil {
						return err
					}
					for _, a := range atts {
						line := fmt.Sprintf("  attempt %d by %s at %s, %s", a.Number, a.Owner, a.Start.Format(time.RFC3339Nano), a.Duration)
						if a.Status != 0 {
							line += fmt.Sprintf(", status %d", a.Status)
						}
						if a.Error != "" {
							line += fmt.Sprintf(": [%s] %s", a.ErrorCode, a.Error)
						}
						fmt.Fprintln(env.stdout, line)
					}
					return nil
				})
			}
		},
	}
}

func jobsActionCommand(action string) *command {
	summary := "make a failed or canceled job wait again, due now, its attempts counted afresh"
	if action == "cancel" {
		summary = "cancel a job that has not succeeded"
	}
	return &command{
		name:    action,
		summary: summary,
		args:    "JOBID",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o dbOptions
			o.register(fs, env, false)
			return func(ctx context.Context, args []string) error {
				id, err := jobArg(args)
				if err != nil {
					return err
				}
				return withJobs(ctx, o, env.stderr, func(s *jobs.Store) error {
					var j jobs.Job
					if action == "retry" {
						j, err = s.Retry(ctx, id)
					} else {
						j, err = s.Cancel(ctx, id)
					}
					if err != nil {
						return err
					}
					return printJob(env.stdout, j, false)
				})
			}
		},
	}
}

func jobArg(args []string) (uuid.UUID, error) {
	if len(args) != 1 {
		return uuid.Nil, usagef("want one JOBID")
	}
	id, err := uuid.Parse(args[0])
	if err != nil {
		return uuid.Nil, usagef("job id %q is not a GUID", args[0])
	}
	return id, nil
}

// withJobs opens the database and runs fn on its job store.
func withJobs(ctx context.Context, o dbOptions, stderr io.Writer, fn func(*jobs.Store) error) error {
	db, err := openEngineDB(ctx, o, newLogger(stderr, slog.LevelWarn))
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(jobs.NewStore(db, nil))
}

type jobJSON struct {
	jobs.Job
	Attempts []jobs.Attempt `json:"attempts"`
}

func printJob(w io.Writer, j jobs.Job, asJSON bool) error {
	if asJSON {
		return newJSONEncoder(w).Encode(j)
	}
	line := fmt.Sprintf("%s %-9s %s %s at %d (%s) attempts %d/%d", j.ID, j.Status, j.Subscriber, j.EventType, j.Position, j.StreamID, j.Attempts, j.MaxAttempts)
	switch {
	case j.Status == jobs.Waiting && j.Attempts > 0:
		line += " next " + j.NextAttemptAt.Format(time.RFC3339)
	case j.DeadLettered:
		line += " dead-lettered"
	}
	if j.Replay != "" {
		line += " " + j.Replay
	}
	if j.LastError != "" && j.Status != jobs.Succeeded {
		line += fmt.Sprintf(": [%s] %s", j.LastErrorCode, strings.ReplaceAll(j.LastError, "\n", " "))
	}
	_, err := fmt.Fprintln(w, line)
	return err
}

// replayDeliverOptions are the options of `bizevents replay deliver`.
type replayDeliverOptions struct {
	DB         dbOptions
	Subscriber string
	Request    router.ReplayRequest
}

func replayDeliverCommand() *command {
	return &command{
		name:    "deliver",
		summary: "deliver a past range of the log to one subscriber again, as new jobs marked as a replay",
		help: "Makes a job for each event in the range that the subscriber receives (an async step's\n" +
			"events are those whose message had the step when it committed), marked with a replay id;\n" +
			"a running server runs them. No subscriber's offset changes. Subscribers are named\n" +
			"\"step:<step name>\".",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o replayDeliverOptions
			o.DB.register(fs, env, false)
			fs.StringVar(&o.Request.Subscriber, "subscriber", "", "the `subscriber`, e.g. \"step:audit purchase\"")
			fs.Var(positionValue{&o.Request.From}, "from", "first `position` of the range")
			fs.Var(positionValue{&o.Request.To}, "to", "last `position` of the range (default: the head)")
			fs.Func("since", "only events recorded at or after `time` (RFC 3339)", func(s string) (err error) {
				o.Request.Since, err = parseTime(s)
				return err
			})
			fs.Func("until", "only events recorded before `time` (RFC 3339)", func(s string) (err error) {
				o.Request.Until, err = parseTime(s)
				return err
			})
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if o.Request.Subscriber == "" {
					return usagef("--subscriber is required, e.g. --subscriber \"step:audit purchase\"")
				}
				if o.Request.From == 0 && o.Request.Since.IsZero() {
					return usagef("give the start of the range: --from POS or --since TIME")
				}
				if o.Request.To > 0 && o.Request.To < o.Request.From {
					return usagef("--to %d is before --from %d", o.Request.To, o.Request.From)
				}
				return runReplayDeliver(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

func runReplayDeliver(ctx context.Context, o replayDeliverOptions, stdout, stderr io.Writer) error {
	e, db, err := openEngine(ctx, o.DB, newLogger(stderr, slog.LevelWarn), nil, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	eps := &endpointSet{getenv: func(string) string { return "" }}
	if err := eps.load(ctx, db); err != nil {
		return err
	}
	snd := newSenders(nil)
	defer snd.close()
	fl := flows.New(flows.Config{Service: e, Log: db.Log()})
	r, err := router.New(db, jobs.NewStore(db, nil), asyncRunners(e, fl, eps, snd), router.Config{})
	if err != nil {
		return err
	}
	subs, err := subscriptions(ctx, e, fl, eps.options)
	if err != nil {
		return err
	}
	if err := r.Sync(subs); err != nil {
		return err
	}
	id, n, err := r.Replay(ctx, o.Request)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s: %d jobs for %s\n", id, n, o.Request.Subscriber)
	return err
}

// jobsAPI serves the jobs over HTTP.
type jobsAPI struct {
	*logAPI
	store *jobs.Store
}

func (a *jobsAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/jobs", a.authenticated(a.list))
	mux.HandleFunc("GET /api/jobs/{id}", a.authenticated(a.show))
	mux.HandleFunc("POST /api/jobs/{id}/retry", a.authenticated(a.action(a.store.Retry)))
	mux.HandleFunc("POST /api/jobs/{id}/cancel", a.authenticated(a.action(a.store.Cancel)))
}

func (a *jobsAPI) list(w http.ResponseWriter, r *http.Request) {
	f, err := jobFilterFromURL(r.URL.Query())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	list, err := a.store.List(r.Context(), f)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []jobs.Job{}
	}
	a.writeJSON(w, r, map[string]any{"jobs": list})
}

func (a *jobsAPI) show(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, &argumentError{err: fmt.Errorf("job id %q is not a GUID", r.PathValue("id"))})
		return
	}
	j, err := a.store.Get(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	atts, err := a.store.Attempts(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if atts == nil {
		atts = []jobs.Attempt{}
	}
	a.writeJSON(w, r, jobJSON{Job: j, Attempts: atts})
}

func (a *jobsAPI) action(do func(context.Context, uuid.UUID) (jobs.Job, error)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			a.writeError(w, r, &argumentError{err: fmt.Errorf("job id %q is not a GUID", r.PathValue("id"))})
			return
		}
		j, err := do(r.Context(), id)
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		a.writeJSON(w, r, j)
	}
}

// jobFilterFromURL reads GET /api/jobs's query: status (repeatable or a
// comma list), subscriber, kind, target, stream, correlation_id,
// dead_letter, after, limit.
func jobFilterFromURL(v url.Values) (jobs.Filter, error) {
	var f jobs.Filter
	err := parseQuery(v, []queryParam{
		{name: "status", list: true, set: func(s string) error {
			for _, st := range appendList(nil, s) {
				f.Status = append(f.Status, jobs.Status(st))
			}
			return nil
		}},
		{name: "subscriber", set: func(s string) error { f.Subscriber = s; return nil }},
		{name: "kind", set: func(s string) error { f.Kind = s; return nil }},
		{name: "target", set: func(s string) error { f.Target = s; return nil }},
		{name: "stream", set: func(s string) error { f.StreamID = s; return nil }},
		{name: "correlation_id", set: func(s string) error { f.CorrelationID = s; return nil }},
		{name: "dead_letter", set: func(s string) (err error) { f.DeadLettered, err = parseBool(s); return err }},
		{name: "after", set: func(s string) (err error) { f.After, err = uuid.Parse(s); return err }},
		{name: "limit", set: func(s string) (err error) { f.Limit, err = parseCount(s); return err }},
	})
	return f, err
}
