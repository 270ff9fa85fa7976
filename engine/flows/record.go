package flows

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
)

// A run's progress is in the log, in its own stream: a run started, the
// actions that completed (several to an event: what ran is written before
// the next action that reads or changes the world starts, and with the
// run's end), and how it finished. A run that resumes (after a crash, a retry,
// a delay) reads its stream and skips what it holds.

// Event types of a run's stream.
const (
	RunStartedType    = "bizevents.FlowRunStarted"
	ActionsRecordType = "bizevents.FlowActionsCompleted"
	RunFinishedType   = "bizevents.FlowRunFinished"
)

// RunStream is the stream of a run's events.
func RunStream(runID string) string { return "flowrun/" + runID }

// RunStarted is the data of a run's first event.
type RunStarted struct {
	Flow     string      `json:"flow"`
	Solution string      `json:"solution,omitempty"`
	RunID    string      `json:"runId"`
	Trigger  TriggerInfo `json:"trigger"`
	Attempt  int         `json:"attempt"`
	// Resubmit names the run this one resubmits.
	Resubmit string `json:"resubmit,omitempty"`
}

// TriggerInfo names a run's trigger event.
type TriggerInfo struct {
	EventID  string `json:"eventId"`
	Position int64  `json:"position"`
	Type     string `json:"type"`
	StreamID string `json:"streamId"`
}

// ActionRecord is what one action did.
type ActionRecord struct {
	// Path locates the action in the run: its name, prefixed in a forEach
	// by the loop's path and the iteration, e.g. lines[2]/add_line.
	Path   string `json:"path"`
	Action string `json:"action"`
	Kind   string `json:"kind"`
	// Status is succeeded, failed, skipped, timedOut, or waiting for a
	// delay that is not due yet.
	Status   string       `json:"status"`
	Inputs   any          `json:"inputs,omitempty"`
	Outputs  any          `json:"outputs,omitempty"`
	Error    *RecordError `json:"error,omitempty"`
	Start    time.Time    `json:"start"`
	Duration float64      `json:"durationMs"`
	Attempts int          `json:"attempts,omitempty"`
}

// RecordError is an action's or a run's failure.
type RecordError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// ActionsCompleted is the data of an event recording actions.
type ActionsCompleted struct {
	RunID   string         `json:"runId"`
	Actions []ActionRecord `json:"actions"`
}

// RunFinished is the data of a run's last event.
type RunFinished struct {
	RunID    string         `json:"runId"`
	Status   string         `json:"status"`
	Error    *RecordError   `json:"error,omitempty"`
	Duration float64        `json:"durationMs"`
	Response map[string]any `json:"response,omitempty"`
}

// Run is a run as its stream tells it.
type Run struct {
	ID       string         `json:"id"`
	Flow     string         `json:"flow"`
	Solution string         `json:"solution,omitempty"`
	Trigger  TriggerInfo    `json:"trigger"`
	Resubmit string         `json:"resubmit,omitempty"`
	Status   string         `json:"status"`
	Error    *RecordError   `json:"error,omitempty"`
	Started  time.Time      `json:"started"`
	Finished *time.Time     `json:"finished,omitempty"`
	Attempts int            `json:"attempts"`
	Actions  []ActionRecord `json:"actions"`
	// Version is the run stream's version.
	Version int64 `json:"-"`
}

// Running is the status of a run that has not finished.
const Running = "running"

// ReadRun reads a run's stream; a run with no events is a not_found error.
func ReadRun(ctx context.Context, log eventlog.Store, runID string) (*Run, error) {
	evs, err := readStream(ctx, log, RunStream(runID))
	if err != nil {
		return nil, err
	}
	if len(evs) == 0 {
		return nil, &notFoundError{what: "flow run " + runID}
	}
	r := &Run{ID: runID, Status: Running}
	for _, ev := range evs {
		r.Version = ev.StreamVersion
		switch ev.Type {
		case RunStartedType:
			var d RunStarted
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return nil, fmt.Errorf("read run %s: %w", runID, err)
			}
			if r.Flow == "" {
				r.Flow, r.Solution, r.Trigger, r.Resubmit, r.Started = d.Flow, d.Solution, d.Trigger, d.Resubmit, ev.Metadata.Time
			}
			r.Attempts = max(r.Attempts, d.Attempt)
			r.Status, r.Error, r.Finished = Running, nil, nil
		case ActionsRecordType:
			var d ActionsCompleted
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return nil, fmt.Errorf("read run %s: %w", runID, err)
			}
			r.Actions = append(r.Actions, d.Actions...)
		case RunFinishedType:
			var d RunFinished
			if err := json.Unmarshal(ev.Data, &d); err != nil {
				return nil, fmt.Errorf("read run %s: %w", runID, err)
			}
			t := ev.Metadata.Time
			r.Status, r.Error, r.Finished = d.Status, d.Error, &t
		}
	}
	return r, nil
}

func readStream(ctx context.Context, log eventlog.Store, stream string) ([]eventlog.Event, error) {
	var out []eventlog.Event
	from := int64(1)
	for {
		evs, err := log.ReadStream(ctx, eventlog.StreamQuery{StreamID: stream, FromVersion: from, Limit: 1000})
		if errors.Is(err, eventlog.ErrStreamNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", stream, err)
		}
		out = append(out, evs...)
		if len(evs) < 1000 {
			return out, nil
		}
		from = evs[len(evs)-1].StreamVersion + 1
	}
}

type notFoundError struct{ what string }

func (e *notFoundError) Error() string           { return e.what + " does not exist" }
func (e *notFoundError) ErrorCode() errcode.Code { return errcode.NotFound }
