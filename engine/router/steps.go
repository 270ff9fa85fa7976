package router

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
)

// Job kinds.
const (
	KindStep     = "step"
	KindEndpoint = "endpoint"
)

// StepSubscriber is the subscriber name of an async step.
func StepSubscriber(step string) string { return "step:" + step }

// StepSubscriptions returns a subscription per async step of defs: kind
// step for a step with a handler, endpoint for one that delivers to an
// endpoint. A step receives the events whose message had it registered
// when it committed (the event's asyncSteps), so a step added later does
// not run on older events, and a removed step's events are kept as jobs.
func StepSubscriptions(defs *pipeline.Definitions, policy jobs.Policy) []Subscription {
	return StepSubscriptionsWith(defs, func(*pipeline.Step) (jobs.Policy, bool) { return policy, false })
}

// StepSubscriptionsWith is StepSubscriptions with a retry policy and
// per-row order chosen per step (an endpoint step takes its endpoint's).
func StepSubscriptionsWith(defs *pipeline.Definitions, optionsOf func(*pipeline.Step) (policy jobs.Policy, ordered bool)) []Subscription {
	var out []Subscription
	for _, s := range defs.AsyncSteps() {
		name := s.Name
		kind := KindStep
		if s.Endpoint != "" {
			kind = KindEndpoint
		}
		policy, ordered := optionsOf(s)
		// The step's name as the event's JSON writes it: an event that
		// does not hold it is not decoded (every subscriber sees every
		// event).
		quoted, _ := json.Marshal(name)
		out = append(out, Subscription{
			Name: StepSubscriber(name), Kind: kind, Target: name, Policy: policy, Ordered: ordered,
			Match: func(ev eventlog.Event) bool {
				return bytes.Contains(ev.Data, quoted) && slices.Contains(pipeline.EventSteps(ev), name)
			},
		})
	}
	return out
}

// StepRunner runs async steps' handlers through the engine (package
// pipeline's RunAsyncStep). A failure is retried per the job's policy,
// except one no retry can fix: the step or its handler is gone, or the
// event does not fit the definitions any more.
func StepRunner(e *pipeline.Engine) Runner {
	return RunnerFunc(func(ctx context.Context, j jobs.Job, ev eventlog.Event) jobs.Outcome {
		err := e.RunAsyncStep(ctx, ev, j.Target)
		if err == nil {
			return jobs.Outcome{}
		}
		switch errcode.Of(err) {
		case errcode.NotFound, errcode.InvalidArgument, errcode.InvalidEvent, errcode.InvalidValue:
			return jobs.Outcome{Err: err}
		}
		return jobs.Outcome{Err: err, Retryable: true}
	})
}
