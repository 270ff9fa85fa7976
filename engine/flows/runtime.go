package flows

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/router"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/tables"
)

// KindFlow is the job kind of a flow run.
const KindFlow = "flow"

// Subscriber is the subscriber name of a flow: its runs are its jobs.
func Subscriber(flow string) string { return "flow:" + flow }

// Defaults for [Config].
const (
	DefaultInlineDelay  = 2 * time.Second
	DefaultHTTPTimeout  = 60 * time.Second
	DefaultMaxBodyBytes = 1 << 20
)

// Config configures a [Runtime]. Zero fields take the defaults.
type Config struct {
	// Service executes the messages of Execute actions: the engine.
	Service pipeline.Service
	// Log holds the runs' progress.
	Log eventlog.Store
	// HTTP sends the requests of HTTP actions. Default a client with no
	// timeout of its own (each action has one).
	HTTP *http.Client
	// Getenv reads env:NAME values. Default os.Getenv.
	Getenv func(string) string
	// InlineDelay is the longest delay a run sleeps through; a longer one
	// puts the run aside (the job is snoozed) until it is due. Default
	// [DefaultInlineDelay].
	InlineDelay time.Duration
	// HTTPTimeout is an HTTP action's timeout when it sets none. Default
	// [DefaultHTTPTimeout].
	HTTPTimeout time.Duration
	// MaxBodyBytes caps the response body an HTTP action reads. Default
	// [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// Now is the clock. Default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.HTTP == nil {
		c.HTTP = &http.Client{}
	}
	if c.Getenv == nil {
		c.Getenv = os.Getenv
	}
	if c.InlineDelay == 0 {
		c.InlineDelay = DefaultInlineDelay
	}
	if c.HTTPTimeout == 0 {
		c.HTTPTimeout = DefaultHTTPTimeout
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Runtime runs flows: their runs as router jobs of kind flow, and
// flow-defined actions as the main operation of their custom APIs. It is
// safe for concurrent use.
type Runtime struct {
	cfg   Config
	set   atomic.Pointer[flowSet]
	batch *batcher
}

type flowSet struct {
	byName map[string]*Flow
	defs   Definitions
}

// New makes a runtime with no flows.
func New(cfg Config) *Runtime {
	r := &Runtime{cfg: cfg.WithDefaults()}
	r.batch = &batcher{log: r.cfg.Log}
	r.set.Store(&flowSet{byName: map[string]*Flow{}})
	return r
}

// SetFlows makes the runtime's flows exactly fs, compiled against defs.
// Runs in flight finish on the flows they started with.
func (r *Runtime) SetFlows(fs []*Flow, defs Definitions) {
	s := &flowSet{byName: make(map[string]*Flow, len(fs)), defs: defs}
	for _, f := range fs {
		s.byName[f.Def.Name] = f
	}
	r.set.Store(s)
}

// Flow returns a flow by name.
func (r *Runtime) Flow(name string) (*Flow, bool) {
	f, ok := r.set.Load().byName[name]
	return f, ok
}

// Flows returns the flows, sorted by name.
func (r *Runtime) Flows() []*Flow {
	s := r.set.Load()
	out := make([]*Flow, 0, len(s.byName))
	for _, f := range s.byName {
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b *Flow) int { return strings.Compare(a.Def.Name, b.Def.Name) })
	return out
}

// Subscriptions returns a router subscription per enabled flow with an
// event trigger (action, table, schedule): its runs are jobs of kind flow.
func (r *Runtime) Subscriptions() []router.Subscription {
	var out []router.Subscription
	for _, f := range r.Flows() {
		if f.Def.Disabled || f.Kind == TriggerRequest {
			continue
		}
		f := f
		sub := router.Subscription{
			Name: Subscriber(f.Def.Name), Kind: KindFlow, Target: f.Def.Name, Policy: f.Policy, Ordered: f.Def.Ordered,
			Match: func(ev eventlog.Event) bool { return r.accepts(f, ev) },
		}
		if f.orderBy != nil {
			sub.Ordered = true
			sub.OrderKey = func(ev eventlog.Event) string { return r.orderKey(f, ev) }
		}
		out = append(out, sub)
	}
	return out
}

// accepts reports whether ev starts a run of f: its type is one of the
// trigger's, a table trigger's filtering columns changed, and the filter
// holds. An event the filter cannot be evaluated on starts a run, which
// fails and shows why.
func (r *Runtime) accepts(f *Flow, ev eventlog.Event) bool {
	if !slices.Contains(f.Events, ev.Type) {
		return false
	}
	if f.Kind == TriggerSchedule {
		var d scheduled
		if err := json.Unmarshal(ev.Data, &d); err != nil || d.Flow != f.Def.Name {
			return false
		}
	}
	if f.Kind == TriggerTable && len(f.Columns) > 0 && ev.Type == f.Table+"."+pipeline.Update {
		var d struct {
			Changed []string `json:"changedColumns"`
		}
		if err := json.Unmarshal(ev.Data, &d); err == nil &&
			!slices.ContainsFunc(f.Columns, func(c string) bool { return slices.Contains(d.Changed, c) }) {
			return false
		}
	}
	if f.filter == nil {
		return true
	}
	trig, err := r.triggerOf(f, ev)
	if err != nil {
		return true
	}
	vals, err := f.env.Values(map[string]any{"trigger": trig})
	if err != nil {
		return true
	}
	ok, err := f.filter.RunBool(context.Background(), vals)
	return ok || err != nil
}

// orderKey is the value of a flow's orderBy on ev, "" when it has none.
func (r *Runtime) orderKey(f *Flow, ev eventlog.Event) string {
	trig, err := r.triggerOf(f, ev)
	if err != nil {
		return ""
	}
	vals, err := f.env.Values(map[string]any{"trigger": trig})
	if err != nil {
		return ""
	}
	v, err := f.orderBy.Run(context.Background(), vals)
	if err != nil || v == nil {
		return ""
	}
	return "key:" + fmt.Sprint(v)
}

// eventData is the part of a message's event a trigger reads (package
// pipeline writes it).
type eventData struct {
	MessageName       string          `json:"messageName"`
	PrimaryEntityName string          `json:"primaryEntityName"`
	PrimaryEntityID   string          `json:"primaryEntityId"`
	Depth             int             `json:"depth"`
	InputParameters   map[string]any  `json:"inputParameters"`
	OutputParameters  map[string]any  `json:"outputParameters"`
	Row               json.RawMessage `json:"row"`
}

// scheduled is the data of a schedule's tick.
type scheduled struct {
	Flow          string    `json:"flow"`
	Tick          int64     `json:"tick"`
	ScheduledTime time.Time `json:"scheduledTime"`
}

// triggerOf is what expressions see as trigger for a run started by ev.
func (r *Runtime) triggerOf(f *Flow, ev eventlog.Event) (map[string]any, error) {
	m := map[string]any{
		"UserId":           ev.Metadata.UserID,
		"InitiatingUserId": ev.Metadata.InitiatingUserID,
		"CorrelationId":    ev.Metadata.CorrelationID,
		"EventId":          ev.ID.String(),
		"Position":         ev.Position,
		"Time":             ev.Metadata.Time.UTC().Format(time.RFC3339Nano),
		"Depth":            ev.Metadata.Depth,
	}
	if f.Kind == TriggerSchedule {
		var d scheduled
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return nil, fmt.Errorf("decode schedule tick %s: %w", ev.ID, err)
		}
		m["MessageName"] = "Schedule"
		m["ScheduledTime"] = d.ScheduledTime.UTC().Format(time.RFC3339Nano)
		m["Tick"] = d.Tick
		return m, nil
	}
	dec := json.NewDecoder(bytes.NewReader(ev.Data))
	dec.UseNumber()
	var d eventData
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("decode event %s: %w", ev.ID, err)
	}
	m["MessageName"] = d.MessageName
	m["PrimaryEntityName"] = d.PrimaryEntityName
	m["PrimaryEntityId"] = d.PrimaryEntityID
	m["InputParameters"] = d.InputParameters
	m["OutputParameters"] = d.OutputParameters
	if len(d.Row) > 0 && d.PrimaryEntityName != "" {
		if defs := r.set.Load().defs; defs != nil {
			if t, ok := defs.Table(d.PrimaryEntityName); ok {
				row, err := tables.DecodeRow(t, d.Row)
				if err != nil {
					return nil, err
				}
				m["Row"] = t.Output(row, nil)
			}
		}
	}
	return m, nil
}

// Runner returns the router Runner of flow jobs: it runs (or resumes) the
// run that is the job.
func (r *Runtime) Runner() router.Runner {
	return router.RunnerFunc(func(ctx context.Context, j jobs.Job, ev eventlog.Event) jobs.Outcome {
		start := r.cfg.Now()
		f, ok := r.Flow(j.Target)
		if !ok {
			return jobs.Outcome{Start: start, Err: &notFoundError{what: "flow " + j.Target}}
		}
		return r.runJob(ctx, f, j, ev, start)
	})
}

// RunError is a run that ended failed: a failed action nothing handled, or
// a terminate action.
type RunError struct {
	Flow, Run string
	Code      errcode.Code
	Message   string
}

func (e *RunError) Error() string {
	return fmt.Sprintf("flow %s run %s failed: %s", e.Flow, e.Run, e.Message)
}

// ErrorCode is the failure's code; flow_failed when it has none.
func (e *RunError) ErrorCode() errcode.Code {
	if e.Code == "" {
		return errcode.HandlerFailed
	}
	return e.Code
}

// snooze is how a run says it waits for a delay: the job is put aside.
type snooze struct{ until time.Time }

func (s *snooze) Error() string { return "waiting until " + s.until.Format(time.RFC3339) }

func (r *Runtime) runJob(ctx context.Context, f *Flow, j jobs.Job, ev eventlog.Event, start time.Time) jobs.Outcome {
	trig, err := r.triggerOf(f, ev)
	if err != nil {
		return jobs.Outcome{Start: start, Err: err}
	}
	// A job's first try has nothing recorded; any later one (a retry, a
	// resumed delay, a crashed process's job taken over) reads the run.
	s, err := r.newRun(ctx, f, j.ID.String(), j.Attempts, trig, j.Tries > 1)
	if err != nil {
		return jobs.Outcome{Start: start, Err: err, Retryable: true}
	}
	s.triggerInfo = TriggerInfo{EventID: ev.ID.String(), Position: ev.Position, Type: ev.Type, StreamID: ev.StreamID}
	s.meta = eventlog.Metadata{UserID: ev.Metadata.UserID, InitiatingUserID: ev.Metadata.InitiatingUserID,
		CorrelationID: ev.Metadata.CorrelationID, CausationID: ev.ID.String(), Depth: ev.Metadata.Depth, Solution: f.Solution}
	s.caller = callerOf(ev.Metadata)
	s.correlation, _ = uuid.Parse(ev.Metadata.CorrelationID)
	s.depth = ev.Metadata.Depth
	s.cause = ev.ID
	s.resubmit = j.Replay
	status, runErr, err := s.run(ctx)
	o := jobs.Outcome{Start: start, Duration: r.cfg.Now().Sub(start)}
	var sn *snooze
	switch {
	case errors.As(err, &sn):
		o.Snooze = max(sn.until.Sub(r.cfg.Now()), time.Millisecond)
	case err != nil:
		o.Err, o.Retryable = err, true
	case status == Failed || status == TimedOut:
		o.Err = runErr
	}
	return o
}

func callerOf(m eventlog.Metadata) pipeline.Caller {
	u, _ := uuid.Parse(m.UserID)
	iu, _ := uuid.Parse(m.InitiatingUserID)
	return pipeline.Caller{UserID: u, InitiatingUserID: iu}
}

// Info describes a flow for listings.
type Info struct {
	Name        string `json:"name"`
	DisplayName string `json:"displayName,omitempty"`
	Description string `json:"description,omitempty"`
	Solution    string `json:"solution,omitempty"`
	// Trigger is the trigger's kind; Events the event types it starts on.
	Trigger  string   `json:"trigger"`
	Events   []string `json:"events,omitempty"`
	Every    string   `json:"every,omitempty"`
	API      string   `json:"customApi,omitempty"`
	Disabled bool     `json:"disabled,omitempty"`
	// Subscriber names the flow's jobs: its runs.
	Subscriber string `json:"subscriber"`
}

// Describe describes a flow.
func Describe(f *Flow) Info {
	in := Info{Name: f.Def.Name, DisplayName: f.Def.DisplayName, Description: f.Def.Description, Solution: f.Solution,
		Trigger: f.Kind, Events: f.Events, Disabled: f.Def.Disabled, Subscriber: Subscriber(f.Def.Name)}
	if f.Kind == TriggerSchedule {
		in.Every = f.Every.String()
	}
	if f.API != nil {
		in.API = f.API.UniqueName
	}
	return in
}

// ResubmitPrefix starts the Replay of a resubmitted run's job, followed by
// the id of the run it resubmits.
const ResubmitPrefix = "resubmit:"

// Resubmit starts a new run of a run's flow on the same trigger event (Power
// Automate's resubmit): a new job, marked with the run it resubmits. The
// old run is kept as it was.
func Resubmit(ctx context.Context, store *jobs.Store, q storage.Querier, run jobs.Job, policy jobs.Policy) (jobs.Job, error) {
	if run.Kind != KindFlow {
		return jobs.Job{}, &notFoundError{what: "flow run " + run.ID.String()}
	}
	marker := ResubmitPrefix + run.ID.String()
	nj := jobs.NewJob{Subscriber: run.Subscriber, Kind: run.Kind, Target: run.Target, Position: run.Position, EventID: run.EventID,
		StreamID: run.StreamID, EventType: run.EventType, CorrelationID: run.CorrelationID, Ordered: run.Ordered,
		Replay: marker, Policy: policy}
	if _, err := store.Enqueue(ctx, q, []jobs.NewJob{nj}); err != nil {
		return jobs.Job{}, err
	}
	list, err := store.List(ctx, jobs.Filter{Subscriber: run.Subscriber, After: run.ID, Limit: 10_000})
	if err != nil {
		return jobs.Job{}, err
	}
	for i := len(list) - 1; i >= 0; i-- {
		if list[i].Replay == marker {
			return list[i], nil
		}
	}
	return jobs.Job{}, fmt.Errorf("resubmit run %s: the new run's job is not listed", run.ID)
}
