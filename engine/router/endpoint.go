package router

import (
	"context"
	"fmt"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
)

// deliveryNamespace derives delivery ids from subscriber and event.
var deliveryNamespace = uuid.MustParse("2b9a4f0e-7c1d-4e8a-9f3b-6d5e4c3b2a19")

// DeliveryID is the stable id of the delivery of an event to a subscriber:
// the same for every attempt and every replay, so that a receiver can
// deduplicate (a replay is marked as one besides).
func DeliveryID(subscriber string, event uuid.UUID) string {
	return uuid.NewSHA1(deliveryNamespace, []byte(subscriber+"\x00"+event.String())).String()
}

// EndpointConfig is what an endpoint step's runner needs.
type EndpointConfig struct {
	// Engine has the steps' definitions.
	Engine *pipeline.Engine
	// Endpoint finds an endpoint by name (the solutions').
	Endpoint func(name string) (endpoints.Endpoint, bool)
	// Problem, when set, says why an endpoint that exists cannot be used
	// now (an env:NAME variable not set): the attempt fails with it and
	// is retried, so setting the variable resumes deliveries.
	Problem func(name string) error
	// Webhook delivers to web hooks.
	Webhook *endpoints.Webhook
	// Queue delivers to queue endpoints (RabbitMQ); nil: a queue
	// endpoint's jobs fail as not supported.
	Queue *endpoints.Queue
	// Stream delivers to stream endpoints (NATS JetStream); nil: a stream
	// endpoint's jobs fail as not supported.
	Stream *endpoints.Stream
	// Kafka delivers to Kafka endpoints; nil: a Kafka endpoint's jobs fail
	// as not supported.
	Kafka *endpoints.Kafka
	// Environment names the deployment in the execution context.
	Environment string
}

// EndpointRunner delivers endpoint steps' events: the execution context
// of the event, for the step, to the step's endpoint. A delivery the
// endpoint refused for good (a 4xx, an endpoint that is gone, a broker
// destination that does not exist) is not retried; the others are, per
// the job's policy, after at least the endpoint's Retry-After. A web hook,
// a queue and a stream receive the same body.
func EndpointRunner(cfg EndpointConfig) Runner {
	return RunnerFunc(func(ctx context.Context, j jobs.Job, ev eventlog.Event) jobs.Outcome {
		step, ok := cfg.Engine.Definitions().AsyncStep(j.Target)
		if !ok {
			return jobs.Outcome{Err: &notFound{what: "async step " + j.Target}}
		}
		ep, ok := cfg.Endpoint(step.Endpoint)
		if !ok {
			return jobs.Outcome{Err: &notFound{what: "endpoint " + step.Endpoint + " of step " + step.Name}}
		}
		if cfg.Problem != nil {
			if err := cfg.Problem(step.Endpoint); err != nil {
				return jobs.Outcome{Err: err, Retryable: true}
			}
		}
		info := endpoints.StepInfo{Name: step.Name, Environment: cfg.Environment, OperationID: j.ID.String()}
		for _, im := range step.PostImages {
			info.PostImages = append(info.PostImages, endpoints.Image{Name: im.Name, Columns: im.Columns})
		}
		for _, im := range step.PreImages {
			info.PreImages = append(info.PreImages, endpoints.Image{Name: im.Name, Columns: im.Columns})
		}
		if len(info.PreImages) > 0 {
			pre, err := cfg.Engine.PreRow(ctx, ev)
			if err != nil {
				return jobs.Outcome{Err: err, Retryable: eventlog.IsRetryable(err)}
			}
			info.PreRow = pre
		}
		ec, err := endpoints.ContextFromEvent(ev, info)
		if err != nil {
			return jobs.Outcome{Err: err}
		}
		d := endpoints.Delivery{ID: DeliveryID(j.Subscriber, ev.ID), Attempt: j.Attempts,
			Replay: j.Replay != "", ReplayID: j.Replay, Context: ec}
		var a endpoints.Attempt
		switch {
		case ep.Kind == endpoints.KindWebhook && cfg.Webhook != nil:
			a = cfg.Webhook.Deliver(ctx, ep, d)
		case ep.Kind == endpoints.KindQueue && cfg.Queue != nil:
			a = cfg.Queue.Deliver(ctx, ep, d)
		case ep.Kind == endpoints.KindStream && cfg.Stream != nil:
			a = cfg.Stream.Deliver(ctx, ep, d)
		case ep.Kind == endpoints.KindKafka && cfg.Kafka != nil:
			a = cfg.Kafka.Deliver(ctx, ep, d)
		default:
			return jobs.Outcome{Err: &unsupported{kind: string(ep.Kind), endpoint: ep.Name}}
		}
		return jobs.Outcome{Err: a.Err, Retryable: a.Retryable, RetryAfter: a.RetryAfter, Status: a.Status, Response: a.Response}
	})
}

type unsupported struct{ kind, endpoint string }

func (e *unsupported) Error() string {
	return fmt.Sprintf("endpoint %s is of kind %q, which this server cannot deliver to", e.endpoint, e.kind)
}

func (e *unsupported) ErrorCode() errcode.Code { return errcode.NotSupported }
