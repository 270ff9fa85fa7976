package flows

import (
	"context"
	"strings"
	"time"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
)

// A flow-defined action is a custom API whose main operation is a flow
// (Dataverse's custom process action). The flow runs inside the caller's
// transaction, its Execute actions one level deeper, and its Response
// action fills the custom API's response properties; when it fails, the
// message fails and nothing is stored. It is not a job and writes no run
// records: the message's own event records the call and its response.

// Handler returns the main-operation handler of a flow-defined action,
// named "flow:<flow name>" (the Handler of the custom API [RequestAPI]
// makes). Runtime is so a pipeline.Handlers.
func (r *Runtime) Handler(name string) (pipeline.Handler, bool) {
	flow, ok := strings.CutPrefix(name, HandlerPrefix)
	if !ok {
		return nil, false
	}
	return pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
		f, ok := r.Flow(flow)
		if !ok || f.Kind != TriggerRequest {
			return &notFoundError{what: "flow-defined action " + flow}
		}
		if f.Def.Disabled {
			return &disabledError{flow: flow, api: ex.Message}
		}
		return r.runAction(ctx, f, ex)
	}), true
}

var _ pipeline.Handlers = (*Runtime)(nil)

type disabledError struct{ flow, api string }

func (e *disabledError) Error() string {
	return "custom API " + e.api + " is a flow-defined action whose flow " + e.flow + " is disabled"
}

// ErrorCode is state_conflict: the action exists but may not run now.
func (e *disabledError) ErrorCode() errcode.Code { return errcode.StateConflict }

func (r *Runtime) runAction(ctx context.Context, f *Flow, ex *pipeline.Execution) error {
	trig := map[string]any{
		"MessageName":       ex.Message,
		"PrimaryEntityName": "none",
		"PrimaryEntityId":   "",
		"UserId":            idString(ex.UserID),
		"InitiatingUserId":  idString(ex.InitiatingUserID),
		"CorrelationId":     idString(ex.CorrelationID),
		"EventId":           "",
		"Position":          0,
		"Time":              ex.OperationTime.UTC().Format(time.RFC3339Nano),
		"Depth":             ex.Depth,
		"InputParameters":   jsonShape(ex.InputParameters),
	}
	s := &runState{rt: r, f: f, id: idString(ex.RequestID), attempt: 1, svc: ex.Service, trigger: trig,
		variables: map[string]any{}, outputs: map[string]any{}, done: map[string]ActionRecord{}, begin: r.cfg.Now(),
		caller: pipeline.Caller{UserID: ex.UserID, InitiatingUserID: ex.InitiatingUserID}, correlation: ex.CorrelationID, depth: ex.Depth}
	status, runErr, err := s.run(ctx)
	if err != nil {
		return err
	}
	if status == Failed {
		return runErr
	}
	if ex.OutputParameters == nil {
		ex.OutputParameters = map[string]any{}
	}
	for k, v := range s.response {
		ex.OutputParameters[k] = v
	}
	return nil
}

func idString(id interface{ String() string }) string {
	s := id.String()
	if s == "00000000-0000-0000-0000-000000000000" {
		return ""
	}
	return s
}
