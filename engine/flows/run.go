package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/expression"
	"github.com/bizevents/bizevents/engine/pipeline"
)

// runState is one attempt of one run.
type runState struct {
	rt      *Runtime
	f       *Flow
	id      string
	attempt int
	// record is false for a flow-defined action: its run is part of its
	// caller's message, which the log records.
	record      bool
	svc         pipeline.Service
	caller      pipeline.Caller
	correlation uuid.UUID
	depth       int
	// cause is the trigger event: the messages the run executes follow
	// from it, one level deeper.
	cause       uuid.UUID
	triggerInfo TriggerInfo
	meta        eventlog.Metadata
	resubmit    string

	mu        sync.Mutex
	trigger   map[string]any
	variables map[string]any
	outputs   map[string]any
	// done holds what earlier attempts recorded, by path.
	done map[string]ActionRecord
	// pending are records not written yet (actions that only compute).
	pending []ActionRecord
	// version is the run stream's version; started is set once the run's
	// first event is written.
	version  int64
	started  bool
	finished bool
	// terminated is set by a terminate action.
	terminated *terminated
	response   map[string]any
	// failure is the last action that failed with an error.
	failure *ActionRecord
	begin   time.Time
}

type terminated struct {
	status  string
	code    string
	message string
}

// frame is what one block's expressions see: the run's Values, or an
// iteration's own in a concurrent forEach.
type frame struct {
	vals    *expression.Values
	outputs map[string]any // the frame's outputs, when it has its own
	item    any
	// own is set for a concurrent iteration: its outputs stay its own.
	own bool
}

// newRun starts an attempt of a run; resume says an earlier attempt may
// have recorded some of it (else the log is not read).
func (r *Runtime) newRun(ctx context.Context, f *Flow, id string, attempt int, trig map[string]any, resume bool) (*runState, error) {
	s := &runState{rt: r, f: f, id: id, attempt: attempt, record: true, svc: r.cfg.Service, trigger: trig,
		variables: map[string]any{}, outputs: map[string]any{}, done: map[string]ActionRecord{}, begin: r.cfg.Now()}
	if !resume {
		return s, nil
	}
	if err := s.load(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// load reads what earlier attempts of the run recorded. When an earlier
// attempt finished failed (this attempt is a retry), the records from the
// first failure on are dropped, so that the failed action runs again.
func (s *runState) load(ctx context.Context) error {
	if !s.record {
		return nil
	}
	run, err := ReadRun(ctx, s.rt.cfg.Log, s.id)
	var nf *notFoundError
	if errors.As(err, &nf) {
		return nil
	}
	if err != nil {
		return err
	}
	s.version, s.started = run.Version, true
	for _, rec := range run.Actions {
		if run.Status != Running && (rec.Status == Failed || rec.Status == TimedOut) {
			break
		}
		s.done[rec.Path] = rec
	}
	return nil
}

// run runs the flow: the variables, then the actions. It returns the run's
// status and, for a failed run, why; err is a failure of the engine (the log,
// the lease), after which the run resumes on the job's next attempt.
func (s *runState) run(ctx context.Context) (string, *RunError, error) {
	fr := &frame{}
	vals, err := s.f.env.Values(map[string]any{
		"trigger": s.trigger,
		"run":     map[string]any{"id": s.id, "flow": s.f.Def.Name, "attempt": s.attempt},
	})
	if err != nil {
		return Failed, &RunError{Flow: s.f.Def.Name, Run: s.id, Code: errcode.InvalidValue, Message: err.Error()}, s.finish(ctx, Failed, &RecordError{Code: string(errcode.InvalidValue), Message: err.Error()})
	}
	fr.vals = vals
	for _, v := range s.f.vars {
		x, err := v.init.eval(ctx, vals)
		if err == nil {
			x, err = convertTo(v.typ, x)
		}
		if err != nil {
			msg := fmt.Sprintf("variable %s: %v", v.name, err)
			return Failed, &RunError{Flow: s.f.Def.Name, Run: s.id, Code: errcode.Of(err), Message: msg}, s.finish(ctx, Failed, &RecordError{Code: string(errcode.Of(err)), Message: msg})
		}
		s.variables[v.name] = x
	}
	if err := s.setVars(fr); err != nil {
		return "", nil, err
	}
	status, err := s.block(ctx, s.f.actions, "", fr)
	if err != nil {
		return "", nil, err
	}
	var runErr *RunError
	var recErr *RecordError
	if t := s.terminated; t != nil {
		status = t.status
		if status == Failed {
			code := t.code
			if code == "" {
				code = string(errcode.HandlerFailed)
			}
			runErr = &RunError{Flow: s.f.Def.Name, Run: s.id, Code: errcode.Code(code), Message: t.message}
			recErr = &RecordError{Code: code, Message: t.message}
		}
	} else if status == Failed || status == TimedOut {
		msg, code := s.firstFailure()
		runErr = &RunError{Flow: s.f.Def.Name, Run: s.id, Code: errcode.Code(code), Message: msg}
		recErr = &RecordError{Code: code, Message: msg}
		status = Failed
	}
	if status == Skipped {
		status = Succeeded
	}
	if err := s.finish(ctx, status, recErr); err != nil {
		return "", nil, err
	}
	return status, runErr, nil
}

// firstFailure describes the last action that failed with an error of its
// own (not a container failing with it).
func (s *runState) firstFailure() (string, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.failure
	if last == nil || last.Error == nil {
		return "an action failed", string(errcode.HandlerFailed)
	}
	return fmt.Sprintf("action %s failed: %s", last.Path, last.Error.Message), last.Error.Code
}

// setVars hands the variables to the expressions.
func (s *runState) setVars(fr *frame) error {
	s.mu.Lock()
	vars := maps.Clone(s.variables)
	s.mu.Unlock()
	return fr.vals.Set("variables", vars)
}

// setOutput records an action's outputs for the expressions after it.
func (s *runState) setOutput(fr *frame, name string, out any) error {
	if fr.own {
		fr.outputs[name] = out
		return fr.vals.Set("outputs", maps.Clone(fr.outputs))
	}
	s.mu.Lock()
	s.outputs[name] = out
	outs := maps.Clone(s.outputs)
	s.mu.Unlock()
	return fr.vals.Set("outputs", outs)
}

// block runs actions in order: each runs when the status of the one before
// it is in its runAfter. The block's status is that of its last action that
// did not skip (succeeded when all skipped).
func (s *runState) block(ctx context.Context, as []*action, prefix string, fr *frame) (string, error) {
	last, prev := Succeeded, ""
	for _, a := range as {
		if s.isTerminated() {
			break
		}
		var st string
		if prev == "" || slices.Contains(a.runAfter, prev) {
			var err error
			st, err = s.action(ctx, a, prefix, fr)
			if err != nil {
				return "", err
			}
		} else {
			st = Skipped
			path := prefix + a.name
			if _, ok := s.done[path]; !ok {
				s.note(ActionRecord{Path: path, Action: a.name, Kind: a.kind, Status: Skipped, Start: s.rt.cfg.Now()})
			}
		}
		prev = st
		if st != Skipped {
			last = st
		}
	}
	return last, nil
}

func (s *runState) isTerminated() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.terminated != nil
}

// note keeps a record to write with the next one that must be written.
func (s *runState) note(rec ActionRecord) {
	s.mu.Lock()
	s.pending = append(s.pending, rec)
	s.mu.Unlock()
}

// action runs one action, or replays what an earlier attempt recorded of it.
func (s *runState) action(ctx context.Context, a *action, prefix string, fr *frame) (string, error) {
	path := prefix + a.name
	if rec, ok := s.done[path]; ok && rec.Status != Waiting {
		return rec.Status, s.replay(a, rec, fr)
	}
	if a.effect && s.pendingEffect() {
		// What read or changed the world before is recorded before this
		// action does, so that a resumed run does not repeat it (what only
		// computed is computed again).
		if err := s.write(ctx, ActionRecord{}); err != nil {
			return "", err
		}
	}
	start := s.rt.cfg.Now()
	rec := ActionRecord{Path: path, Action: a.name, Kind: a.kind, Start: start}
	actx, cancel := ctx, context.CancelFunc(func() {})
	if a.timeout > 0 {
		actx, cancel = context.WithTimeout(ctx, a.timeout)
	}
	res, err := s.perform(actx, a, path, fr, &rec)
	timedOut := a.timeout > 0 && actx.Err() == context.DeadlineExceeded && ctx.Err() == nil
	cancel()
	var sn *snooze
	if errors.As(err, &sn) {
		return "", err
	}
	if ctx.Err() != nil {
		return "", ctx.Err()
	}
	var ee *engineError
	if errors.As(err, &ee) {
		return "", ee.err
	}
	rec.Duration = float64(s.rt.cfg.Now().Sub(start).Microseconds()) / 1000
	switch {
	case timedOut:
		rec.Status = TimedOut
		rec.Error = &RecordError{Code: string(errcode.Unavailable), Message: fmt.Sprintf("timed out after %s", a.timeout)}
	case err != nil:
		rec.Status = Failed
		rec.Error = &RecordError{Code: string(errcode.Of(err)), Message: err.Error()}
	case res.status != "":
		rec.Status = res.status
	default:
		rec.Status = Succeeded
	}
	if rec.Error != nil {
		s.mu.Lock()
		f := rec
		s.failure = &f
		s.mu.Unlock()
	}
	if rec.Status == Succeeded || res.keepOutputs {
		rec.Outputs = res.outputs
		if err := s.apply(a, rec.Outputs, fr); err != nil {
			return "", err
		}
	}
	s.note(rec)
	return rec.Status, nil
}

// pendingEffect reports whether a record not written yet is of an action
// that read or changed the world.
func (s *runState) pendingEffect() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rec := range s.pending {
		switch rec.Kind {
		case KindExecute, KindHTTP, KindDelay:
			return true
		}
	}
	return false
}

// replay applies a recorded action's effects on the run's state.
func (s *runState) replay(a *action, rec ActionRecord, fr *frame) error {
	if rec.Error != nil {
		s.mu.Lock()
		f := rec
		s.failure = &f
		s.mu.Unlock()
	}
	if rec.Status == Succeeded {
		return s.apply(a, rec.Outputs, fr)
	}
	if a.kind == KindTerminate {
		s.applyTerminate(rec)
	}
	return nil
}

// apply makes an action's outputs visible: to later expressions, and for
// variables and terminate to the run.
func (s *runState) apply(a *action, out any, fr *frame) error {
	switch a.kind {
	case KindSetVariable, KindAppendVariable:
		m, _ := out.(map[string]any)
		s.mu.Lock()
		s.variables[a.variable] = m["value"]
		s.mu.Unlock()
		if err := s.setVars(fr); err != nil {
			return err
		}
	case KindTerminate:
		s.applyTerminate(ActionRecord{Outputs: out})
	case KindResponse:
		m, _ := out.(map[string]any)
		s.mu.Lock()
		s.response = m
		s.mu.Unlock()
	}
	return s.setOutput(fr, a.name, out)
}

func (s *runState) applyTerminate(rec ActionRecord) {
	m, _ := rec.Outputs.(map[string]any)
	t := &terminated{}
	t.status, _ = m["status"].(string)
	t.code, _ = m["code"].(string)
	t.message, _ = m["message"].(string)
	s.mu.Lock()
	if s.terminated == nil {
		s.terminated = t
	}
	s.mu.Unlock()
}

// engineError marks a failure of the engine during an action (the log
// could not be written): the attempt stops and the run resumes later.
type engineError struct{ err error }

func (e *engineError) Error() string { return e.err.Error() }
func (e *engineError) Unwrap() error { return e.err }

// result is what an action gave.
type result struct {
	outputs any
	// status overrides the action's status (a container's is its block's).
	status string
	// keepOutputs keeps the outputs of an action that did not succeed.
	keepOutputs bool
}

// perform runs an action of any kind.
func (s *runState) perform(ctx context.Context, a *action, path string, fr *frame, rec *ActionRecord) (result, error) {
	switch a.kind {
	case KindExecute:
		return s.execute(ctx, a, path, fr, rec)
	case KindHTTP:
		return s.http(ctx, a, path, fr, rec)
	case KindSetVariable, KindAppendVariable:
		v, err := a.val.eval(ctx, fr.vals)
		if err != nil {
			return result{}, err
		}
		rec.Inputs = map[string]any{"name": a.variable, "value": v}
		if a.kind == KindAppendVariable {
			s.mu.Lock()
			cur := s.variables[a.variable]
			s.mu.Unlock()
			v, err = appendTo(cur, v)
			if err != nil {
				return result{}, err
			}
		}
		v, err = convertTo(a.varType, v)
		if err != nil {
			return result{}, fmt.Errorf("variable %s: %w", a.variable, err)
		}
		return result{outputs: map[string]any{"value": v}}, nil
	case KindCompose:
		v, err := a.val.eval(ctx, fr.vals)
		return result{outputs: v}, err
	case KindCondition:
		ok, err := a.cond.RunBool(ctx, fr.vals)
		if err != nil {
			return result{}, err
		}
		rec.Inputs = map[string]any{"expression": a.cond.Source()}
		branch := a.els
		if ok {
			branch = a.then
		}
		st, err := s.block(ctx, branch, "", fr)
		if err != nil {
			return result{}, &engineError{err}
		}
		return result{outputs: map[string]any{"result": ok}, status: st, keepOutputs: true}, nil
	case KindSwitch:
		on, err := a.cond.Run(ctx, fr.vals)
		if err != nil {
			return result{}, err
		}
		on = normalize(on)
		branch, matched := a.children, "default"
		for i, c := range a.cases {
			if fmt.Sprint(c.value) == fmt.Sprint(on) {
				branch, matched = c.actions, strconv.Itoa(i)
				break
			}
		}
		rec.Inputs = map[string]any{"on": on}
		st, err := s.block(ctx, branch, "", fr)
		if err != nil {
			return result{}, &engineError{err}
		}
		return result{outputs: map[string]any{"case": matched}, status: st, keepOutputs: true}, nil
	case KindScope:
		st, err := s.block(ctx, a.children, "", fr)
		if err != nil {
			return result{}, &engineError{err}
		}
		return result{status: st}, nil
	case KindForEach:
		return s.forEach(ctx, a, path, fr, rec)
	case KindDelay:
		return s.delay(ctx, a, path, fr, rec)
	case KindTerminate:
		msg, err := a.val.evalString(ctx, fr.vals)
		if err != nil {
			return result{}, err
		}
		return result{outputs: map[string]any{"status": a.status, "code": a.code, "message": msg}}, nil
	case KindResponse:
		m, err := a.val.evalMap(ctx, fr.vals)
		return result{outputs: m}, err
	}
	return result{}, fmt.Errorf("action %s: unknown kind %s", a.name, a.kind)
}

// forEach runs the loop's actions per item: in order, or concurrently with
// each iteration's outputs its own.
func (s *runState) forEach(ctx context.Context, a *action, path string, fr *frame, rec *ActionRecord) (result, error) {
	x, err := a.items.Run(ctx, fr.vals)
	if err != nil {
		return result{}, err
	}
	var items []any
	switch x := x.(type) {
	case nil:
	case []any:
		items = x
	default:
		return result{}, fmt.Errorf("items gave %T, not a list", x)
	}
	rec.Inputs = map[string]any{"count": len(items)}
	statuses := make([]string, len(items))
	iterate := func(i int, f *frame) error {
		if err := f.vals.Set("item", items[i]); err != nil {
			return err
		}
		st, err := s.block(ctx, a.children, fmt.Sprintf("%s[%d]/", path, i), f)
		statuses[i] = st
		return err
	}
	if a.concurrency <= 1 {
		for i := range items {
			if s.isTerminated() {
				break
			}
			if err := iterate(i, fr); err != nil {
				return result{}, &engineError{err}
			}
		}
	} else {
		var wg sync.WaitGroup
		sem := make(chan struct{}, a.concurrency)
		errs := make([]error, len(items))
		for i := range items {
			sem <- struct{}{}
			wg.Add(1)
			go func(i int) {
				defer func() { <-sem; wg.Done() }()
				s.mu.Lock()
				outs := maps.Clone(s.outputs)
				vars := maps.Clone(s.variables)
				s.mu.Unlock()
				vals, err := s.f.env.Values(map[string]any{"trigger": s.trigger, "variables": vars, "outputs": outs,
					"run": map[string]any{"id": s.id, "flow": s.f.Def.Name, "attempt": s.attempt}})
				if err != nil {
					errs[i] = err
					return
				}
				errs[i] = iterate(i, &frame{vals: vals, outputs: outs, own: true})
			}(i)
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return result{}, &engineError{err}
		}
	}
	st := Succeeded
	for _, x := range statuses {
		if x == Failed || x == TimedOut {
			st = Failed
		}
	}
	return result{outputs: map[string]any{"count": len(items)}, status: st, keepOutputs: true}, nil
}

// delay waits: in the worker when short, else by snoozing the job with the
// time it is due recorded, so that a resumed run waits only what is left.
func (s *runState) delay(ctx context.Context, a *action, path string, fr *frame, rec *ActionRecord) (result, error) {
	now := s.rt.cfg.Now()
	var until time.Time
	if prev, ok := s.done[path]; ok && prev.Status == Waiting {
		m, _ := prev.Outputs.(map[string]any)
		t, _ := m["until"].(string)
		until, _ = time.Parse(time.RFC3339Nano, t)
	} else if a.until != nil {
		x, err := a.until.Run(ctx, fr.vals)
		if err != nil {
			return result{}, err
		}
		switch x := x.(type) {
		case string:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return result{}, fmt.Errorf("until %q is not an RFC 3339 time", x)
			}
			until = t
		case time.Time:
			until = x
		default:
			return result{}, fmt.Errorf("until gave %T, not a time", x)
		}
	} else {
		until = now.Add(a.delay)
	}
	out := map[string]any{"until": until.UTC().Format(time.RFC3339Nano)}
	wait := until.Sub(now)
	// A concurrent forEach's iterations share the run: a delay in one
	// sleeps in its worker rather than putting the whole run aside.
	if wait > s.rt.cfg.InlineDelay && s.record && !fr.own {
		if _, ok := s.done[path]; !ok {
			w := *rec
			w.Status, w.Outputs = Waiting, out
			if err := s.write(ctx, w); err != nil {
				return result{}, &engineError{err}
			}
			s.done[path] = w
		}
		return result{}, &snooze{until: until}
	}
	if wait > 0 {
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return result{}, ctx.Err()
		case <-t.C:
		}
	}
	return result{outputs: out}, nil
}

// write writes the pending records and rec (when it has a path), fenced by
// the run stream's version so that a process that lost the job cannot
// write.
func (s *runState) write(ctx context.Context, rec ActionRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	recs := s.pending
	if rec.Path != "" {
		recs = append(recs, rec)
	}
	if !s.record {
		s.pending = nil
		return nil
	}
	var evs []eventlog.NewEvent
	if !s.started {
		d := RunStarted{Flow: s.f.Def.Name, Solution: s.f.Solution, RunID: s.id, Trigger: s.triggerInfo, Attempt: s.attempt, Resubmit: s.resubmit}
		evs = append(evs, s.event(RunStartedType, d))
	}
	if len(recs) > 0 {
		evs = append(evs, s.event(ActionsRecordType, ActionsCompleted{RunID: s.id, Actions: recs}))
	}
	return s.appendLocked(ctx, evs, func() { s.pending = nil })
}

func (s *runState) appendLocked(ctx context.Context, evs []eventlog.NewEvent, done func()) error {
	if len(evs) == 0 {
		return nil
	}
	for _, ev := range evs {
		if ev.Data == nil {
			return fmt.Errorf("encode the run's progress")
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.rt.batch.append(RunStream(s.id), s.version, evs); err != nil {
		return fmt.Errorf("record run %s: %w", s.id, err)
	}
	s.version += int64(len(evs))
	s.started = true
	done()
	return nil
}

func (s *runState) event(typ string, d any) eventlog.NewEvent {
	data, err := json.Marshal(d)
	if err != nil {
		data = nil
	}
	return eventlog.NewEvent{StreamID: RunStream(s.id), Type: typ, Data: data, Metadata: s.meta}
}

// finish writes the pending records and the run's end.
func (s *runState) finish(ctx context.Context, status string, recErr *RecordError) error {
	if !s.record {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var evs []eventlog.NewEvent
	if !s.started {
		evs = append(evs, s.event(RunStartedType, RunStarted{Flow: s.f.Def.Name, Solution: s.f.Solution, RunID: s.id, Trigger: s.triggerInfo, Attempt: s.attempt, Resubmit: s.resubmit}))
	}
	if len(s.pending) > 0 {
		evs = append(evs, s.event(ActionsRecordType, ActionsCompleted{RunID: s.id, Actions: s.pending}))
	}
	evs = append(evs, s.event(RunFinishedType, RunFinished{RunID: s.id, Status: status, Error: recErr,
		Duration: float64(s.rt.cfg.Now().Sub(s.begin).Microseconds()) / 1000, Response: s.response}))
	return s.appendLocked(ctx, evs, func() { s.pending = nil; s.finished = true })
}

// appendTo appends v to an array or string variable's value.
func appendTo(cur, v any) (any, error) {
	switch c := cur.(type) {
	case nil:
		if s, ok := v.(string); ok {
			return s, nil
		}
		return []any{v}, nil
	case []any:
		return append(slices.Clone(c), v), nil
	case string:
		s, ok := v.(string)
		if !ok {
			return nil, fmt.Errorf("append %T to a string variable", v)
		}
		return c + s, nil
	}
	return nil, fmt.Errorf("append to a %T variable", cur)
}

// convertTo checks and converts a value to a variable's declared type.
func convertTo(t expression.Type, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch t.Kind {
	case expression.String:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case expression.Int:
		switch n := v.(type) {
		case int:
			return int64(n), nil
		case int64:
			return n, nil
		case float64:
			if n == float64(int64(n)) {
				return int64(n), nil
			}
		case json.Number:
			if i, err := n.Int64(); err == nil {
				return i, nil
			}
		}
	case expression.Float:
		switch n := v.(type) {
		case int:
			return float64(n), nil
		case int64:
			return float64(n), nil
		case float64:
			return n, nil
		case json.Number:
			if f, err := n.Float64(); err == nil {
				return f, nil
			}
		}
	case expression.Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case expression.List:
		if l, ok := v.([]any); ok {
			return l, nil
		}
	case expression.Map:
		if m, ok := v.(map[string]any); ok {
			return m, nil
		}
	default:
		return v, nil
	}
	return nil, &valueError{msg: fmt.Sprintf("got %s, want %s", describe(v), t)}
}

func describe(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	case int, int64, float64, json.Number:
		return "a number"
	}
	return strings.TrimPrefix(fmt.Sprintf("%T", v), "*")
}

type valueError struct{ msg string }

func (e *valueError) Error() string           { return e.msg }
func (e *valueError) ErrorCode() errcode.Code { return errcode.InvalidValue }
