package pipeline

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/tables"
)

// AsyncSteps returns the enabled async steps, by name.
func (d *Definitions) AsyncSteps() []*Step {
	var out []*Step
	for k, steps := range d.steps {
		if k.mode == Async {
			out = append(out, steps...)
		}
	}
	slices.SortFunc(out, func(a, b *Step) int { return cmp.Compare(a.Name, b.Name) })
	return out
}

// AsyncStep returns the enabled async step called name.
func (d *Definitions) AsyncStep(name string) (*Step, bool) {
	for k, steps := range d.steps {
		if k.mode != Async {
			continue
		}
		for _, s := range steps {
			if s.Name == name {
				return s, true
			}
		}
	}
	return nil, false
}

// EventSteps returns the names of the async steps an event's message had
// when it committed: the steps the router runs for it. Events that are
// not messages' (a solution import) have none.
func EventSteps(ev eventlog.Event) []string {
	var data struct {
		AsyncSteps []string `json:"asyncSteps"`
	}
	if !bytes.Contains(ev.Data, []byte(`"asyncSteps"`)) || json.Unmarshal(ev.Data, &data) != nil {
		return nil
	}
	return data.AsyncSteps
}

// RunAsyncStep runs an async step on a committed event, as the router
// does after commit: the step's handler gets the event's message, its
// input and output parameters, post images from the row the event
// recorded, pre images from the row before it, read from the log (see
// [Engine.PreRow]), and a Service whose messages run as the event's user, in
// transactions of their own, one level deeper than the event's message,
// correlated with it. A step that no longer exists, or that targets an
// endpoint, is an error with code not_found or invalid_argument; the
// handler's error is returned as it is.
func (e *Engine) RunAsyncStep(ctx context.Context, ev eventlog.Event, stepName string) error {
	defs := e.defs.Load()
	step, ok := defs.AsyncStep(stepName)
	if !ok {
		return errorf(errcode.NotFound, "async step %q is not defined (any more)", stepName)
	}
	if step.Handler == "" {
		return errorf(errcode.InvalidArgument, "async step %s delivers to endpoint %s: it has no handler to run", step.Name, step.Endpoint)
	}
	h, ok := e.cfg.Handlers.Handler(step.Handler)
	if !ok {
		return errorf(errcode.NotFound, "step %s: handler %s is not registered", step.Name, step.Handler)
	}
	var pre json.RawMessage
	if len(step.PreImages) > 0 {
		var err error
		if pre, err = e.PreRow(ctx, ev); err != nil {
			return err
		}
	}
	ex, err := asyncExecution(defs, ev, step, pre)
	if err != nil {
		return err
	}
	ex.Service = &asyncService{e: e, ex: ex, event: ev.ID}
	if err := safeHandle(ctx, h, ex); err != nil {
		return stepError(step.Name, PostOperation, err)
	}
	return nil
}

// asyncExecution rebuilds a step's execution context from an event and
// the row before it (nil: none).
func asyncExecution(defs *Definitions, ev eventlog.Event, step *Step, pre json.RawMessage) (*Execution, error) {
	dec := json.NewDecoder(bytes.NewReader(ev.Data))
	dec.UseNumber()
	var data struct {
		eventData
		InputParameters  map[string]any `json:"inputParameters"`
		OutputParameters map[string]any `json:"outputParameters"`
	}
	if err := dec.Decode(&data); err != nil {
		return nil, errorf(errcode.InvalidEvent, "event %d (%s) is not a message's event: %v", ev.Position, ev.Type, err)
	}
	parse := func(s string) uuid.UUID { id, _ := uuid.Parse(s); return id }
	ex := &Execution{
		Message: data.MessageName, Table: data.PrimaryEntityName, Stage: PostOperation, Mode: Async, Depth: max(data.Depth, 1),
		UserID: parse(ev.Metadata.UserID), InitiatingUserID: parse(ev.Metadata.InitiatingUserID),
		CorrelationID: parse(ev.Metadata.CorrelationID), RequestID: parse(ev.Metadata.RequestID),
		OperationTime:   ev.Metadata.Time,
		InputParameters: data.InputParameters, OutputParameters: data.OutputParameters,
		SharedVariables: map[string]any{}, PreImages: map[string]tables.Row{}, PostImages: map[string]tables.Row{},
		Step: step.Name, Config: step.Config, SecureConfig: step.SecureConfig,
	}
	if ex.InputParameters == nil {
		ex.InputParameters = map[string]any{}
	}
	if ex.OutputParameters == nil {
		ex.OutputParameters = map[string]any{}
	}
	if data.PrimaryEntityID != nil {
		ex.ID = *data.PrimaryEntityID
	}
	if a, ok := defs.CustomAPI(data.MessageName); ok {
		params := map[string]any{}
		for k, v := range data.InputParameters {
			if k != "Target" {
				params[k] = v
			}
		}
		checked, err := a.CheckParameters(params, defs.Table)
		if err != nil {
			return nil, fmt.Errorf("event %d: %w", ev.Position, err)
		}
		for k, v := range checked {
			ex.InputParameters[k] = v
		}
	}
	t, ok := defs.Table(data.PrimaryEntityName)
	if !ok {
		return ex, nil
	}
	if len(data.Row) > 0 {
		row, err := tables.DecodeRow(t, data.Row)
		if err != nil {
			return nil, fmt.Errorf("event %d: row: %w", ev.Position, err)
		}
		if data.MessageName == Create || data.MessageName == Update {
			ex.InputParameters["Target"] = row
		}
		ex.PostImages = cutImages(t, step.PostImages, row)
	}
	if len(pre) > 0 {
		row, err := tables.DecodeRow(t, pre)
		if err != nil {
			return nil, fmt.Errorf("event %d: the row before it: %w", ev.Position, err)
		}
		ex.PreImages = cutImages(t, step.PreImages, row)
	}
	return ex, nil
}

// asyncService runs an async step's messages: each in a transaction of
// its own (the event's committed), as the event's user, one level deeper
// than the event's message, caused by the event.
type asyncService struct {
	e     *Engine
	ex    *Execution
	event uuid.UUID
}

func (s *asyncService) Execute(ctx context.Context, req Request) (Response, error) {
	if req.Caller.UserID == uuid.Nil {
		req.Caller = Caller{UserID: s.ex.UserID, InitiatingUserID: s.ex.InitiatingUserID}
	}
	if req.Caller.InitiatingUserID == uuid.Nil {
		req.Caller.InitiatingUserID = s.ex.InitiatingUserID
	}
	req.CorrelationID = s.ex.CorrelationID
	req.RequestID = newID()
	req.IdempotencyKey = ""
	return s.e.run(ctx, &call{req: req, depth: s.ex.Depth + 1, defs: s.e.defs.Load(), parentEvent: s.event})
}
