package inputs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
)

// Service runs the invocations: [pipeline.Engine] implements it.
type Service interface {
	Execute(ctx context.Context, req pipeline.Request) (pipeline.Response, error)
}

var _ Service = (*pipeline.Engine)(nil)

// Defaults for [Config].
const (
	// DefaultRetries is how many times a message that failed for a
	// transient reason is run again before it is dead-lettered.
	DefaultRetries = 3
	// DefaultRetryDelay is the wait before the first retry; each next wait
	// doubles, up to DefaultMaxRetryDelay.
	DefaultRetryDelay    = 200 * time.Millisecond
	DefaultMaxRetryDelay = 5 * time.Second
	// DefaultTimeout bounds one run of a message.
	DefaultTimeout = 30 * time.Second
	// DefaultPrefetch is how many messages the broker hands an input ahead
	// of their acks.
	DefaultPrefetch = 16
	// DefaultAckWait is how long JetStream waits for an ack before it
	// redelivers a message to another consumer: more than the default
	// tries take at their longest (4 × DefaultTimeout and the waits).
	DefaultAckWait = 5 * time.Minute
	// DefaultConnectTimeout bounds connecting to a broker.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultCloseTimeout bounds how long Stop waits for the messages
	// being run.
	DefaultCloseTimeout = 30 * time.Second
)

// Config configures a [Runner]. Zero fields take the defaults.
type Config struct {
	// Retries is how many times a transient failure is retried, with
	// exponential backoff, before the message is dead-lettered. Default
	// [DefaultRetries]; negative for none.
	Retries int
	// RetryDelay is the first wait between tries. Default
	// [DefaultRetryDelay].
	RetryDelay time.Duration
	// MaxRetryDelay is the longest wait between tries. Default
	// [DefaultMaxRetryDelay].
	MaxRetryDelay time.Duration
	// Timeout bounds one run of a message. Default [DefaultTimeout].
	Timeout time.Duration
	// Prefetch is how many unacknowledged messages the broker sends an
	// input ahead (AMQP prefetch count, JetStream max ack pending). Default
	// [DefaultPrefetch].
	Prefetch int
	// AckWait is the JetStream consumer's ack wait: a message not acked in
	// this time is delivered again. It must outlast Timeout and the
	// retries. Default [DefaultAckWait].
	AckWait time.Duration
	// ConnectTimeout bounds connecting to a broker. Default
	// [DefaultConnectTimeout].
	ConnectTimeout time.Duration
	// CloseTimeout bounds how long Stop waits for running messages.
	// Default [DefaultCloseTimeout].
	CloseTimeout time.Duration
	Logger       *slog.Logger
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	switch {
	case c.Retries == 0:
		c.Retries = DefaultRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.RetryDelay <= 0 {
		c.RetryDelay = DefaultRetryDelay
	}
	if c.MaxRetryDelay <= 0 {
		c.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if c.MaxRetryDelay < c.RetryDelay {
		c.MaxRetryDelay = c.RetryDelay
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Prefetch <= 0 {
		c.Prefetch = DefaultPrefetch
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	if c.ConnectTimeout <= 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	if c.CloseTimeout <= 0 {
		c.CloseTimeout = DefaultCloseTimeout
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Log attribute keys.
const (
	logKeyInput         = "input"
	logKeyMessageID     = "message_id"
	logKeyCorrelationID = "correlation_id"
	logKeyCode          = "code"
	logKeyErr           = "err"
	logKeyDeadLetter    = "dead_letter"
)

// transport is one input's broker: the watermill subscriber its messages
// come from and the publishing of its dead letters.
type transport interface {
	subscriber() message.Subscriber
	// topic is what the subscriber subscribes to.
	topic() string
	// publishDeadLetter stores dl at the input's dead-letter destination,
	// returning once the broker has it.
	publishDeadLetter(dl *message.Message) error
	// close closes the publisher and the connections; the router has
	// closed the subscriber.
	close() error
}

// Runner consumes its inputs and runs each message as an invocation of
// the input's custom API, through one watermill Router.
type Runner struct {
	svc    Service
	inputs []Input
	cfg    Config
	log    *slog.Logger

	mu       sync.Mutex
	started  bool
	wm       *message.Router
	ts       []transport
	cancel   context.CancelFunc
	done     chan struct{}
	stopping atomic.Bool
	// stopCtx is canceled when Stop begins.
	stopCtx    context.Context
	stopCancel context.CancelFunc
	// inflight counts the messages between arrival and settlement.
	inflight atomic.Int64
}

// New returns a runner of inputs on svc; every input's problems are
// reported at once. Start it.
func New(svc Service, inputs []Input, cfg Config) (*Runner, error) {
	var errs []error
	seen := map[string]bool{}
	for _, in := range inputs {
		if err := in.Validate(); err != nil {
			errs = append(errs, err)
		}
		if seen[in.Name] {
			errs = append(errs, &FieldError{Input: in.Name, Field: "name", Problem: "is given twice"})
		}
		seen[in.Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	cfg = cfg.WithDefaults()
	return &Runner{svc: svc, inputs: append([]Input(nil), inputs...), cfg: cfg, log: cfg.Logger.With("component", "inputs")}, nil
}

// Inputs returns the runner's inputs.
func (r *Runner) Inputs() []Input { return append([]Input(nil), r.inputs...) }

// Start connects to every input's broker, makes sure its queue or stream
// and its dead-letter destination exist, and starts consuming. A broker
// that cannot be reached fails Start with an error of code unavailable
// naming the input; nothing is left running then. ctx bounds the start
// only: the runner runs until Stop.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.started {
		return errors.New("inputs: already started")
	}
	wlog := watermill.NewSlogLoggerWithLevelMapping(r.log, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
	wm, err := message.NewRouter(message.RouterConfig{CloseTimeout: r.cfg.CloseTimeout}, wlog)
	if err != nil {
		return err
	}
	retry := middleware.Retry{
		MaxRetries:          r.cfg.Retries,
		InitialInterval:     r.cfg.RetryDelay,
		MaxInterval:         r.cfg.MaxRetryDelay,
		Multiplier:          2,
		RandomizationFactor: 0.2,
		ShouldRetry:         func(p middleware.RetryParams) bool { return Retryable(p.Err) && !r.stopping.Load() },
		ResetContextOnRetry: true,
	}
	r.stopping.Store(false)
	r.stopCtx, r.stopCancel = context.WithCancel(context.Background())
	var ts []transport
	closeAll := func() {
		for _, t := range ts {
			_ = t.close()
		}
	}
	for _, in := range r.inputs {
		t, err := r.open(ctx, in, wlog)
		if err != nil {
			closeAll()
			return fmt.Errorf("input %s: %w", in.Name, err)
		}
		ts = append(ts, t)
		h := wm.AddConsumerHandler("input "+in.Name, t.topic(), t.subscriber(), r.handler(in))
		h.AddMiddleware(r.outcome(in, t), retry.Middleware)
	}
	runCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	runErr := make(chan error, 1)
	go func() {
		defer close(done)
		if err := wm.Run(runCtx); err != nil {
			runErr <- err
			r.log.ErrorContext(runCtx, "watermill router stopped", logKeyErr, err)
		}
	}()
	select {
	case <-wm.Running():
	case <-done:
		cancel()
		closeAll()
		err := errors.New("the router stopped")
		select {
		case err = <-runErr:
		default:
		}
		return fmt.Errorf("inputs: start: %w", err)
	case <-ctx.Done():
		_ = wm.Close()
		cancel()
		<-done
		closeAll()
		return ctx.Err()
	}
	r.started, r.wm, r.ts, r.cancel, r.done = true, wm, ts, cancel, done
	for _, in := range r.inputs {
		r.log.InfoContext(ctx, "input started", logKeyInput, in.Name, "kind", string(in.Kind), "source", in.Source(),
			logKeyDeadLetter, in.DeadLetterDestination(), "message", in.Message, "broker", redact(in.URL))
	}
	return nil
}

// Stop stops consuming and waits (at most until ctx is done, and at most
// CloseTimeout) for the messages being run; a message whose run was cut
// short is left to the broker, which delivers it again.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.started {
		return nil
	}
	r.started = false
	r.stopping.Store(true)
	r.stopCancel()
	errc := make(chan error, 1)
	wm, ts, cancel, done := r.wm, r.ts, r.cancel, r.done
	go func() {
		// The messages being run settle first (see outcome); a message
		// arriving now is nacked unrun.
		deadline := time.Now().Add(r.cfg.CloseTimeout)
		for r.inflight.Load() > 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		err := wm.Close()
		cancel()
		<-done
		for _, t := range ts {
			err = errors.Join(err, t.close())
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		r.log.InfoContext(ctx, "inputs stopped")
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *Runner) open(ctx context.Context, in Input, logger watermill.LoggerAdapter) (transport, error) {
	switch in.Kind {
	case KindQueue:
		return openAMQP(ctx, in, r.cfg, logger)
	case KindStream:
		return openNATS(ctx, in, r.cfg, logger)
	case KindKafka:
		return openKafka(ctx, in, r.cfg, logger)
	}
	return nil, fmt.Errorf("kind %q is not supported", in.Kind)
}

// handler runs one message.
func (r *Runner) handler(in Input) message.NoPublishHandlerFunc {
	return func(msg *message.Message) error {
		req, err := request(in, msg)
		if err != nil {
			return err
		}
		// The run is not cut short when the runner stops: it is bounded by
		// its timeout, and Stop waits for it.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(msg.Context()), r.cfg.Timeout)
		defer cancel()
		resp, err := r.svc.Execute(ctx, req)
		if err != nil {
			if Retryable(err) {
				r.log.WarnContext(ctx, "message failed", logKeyInput, in.Name, logKeyMessageID, msg.UUID,
					logKeyCode, string(errcode.Of(err)), logKeyErr, err)
			}
			return err
		}
		r.log.DebugContext(ctx, "message run", logKeyInput, in.Name, logKeyMessageID, msg.UUID,
			"event_id", resp.EventID.String(), "replayed", resp.Replayed)
		return nil
	}
}

// settleWait bounds how long outcome waits for the subscriber to pass an
// ack or nack on to the broker.
const settleWait = 5 * time.Second

// outcome settles a message after its tries: acked when it ran; published
// to the dead letter with the reason and acked when it failed; left to the
// broker (nacked) when the runner is stopping or the dead letter could not
// be published.
//
// It acks or nacks the message itself (the router's own ack after it is a
// no-op) and waits until the subscriber has
// told the broker (the subscriber ends the message's context then): Stop
// closes the subscribers only once no message is between the two, so that
// closing cannot turn an ack into a redelivery, or drop a nack.
func (r *Runner) outcome(in Input, t transport) message.HandlerMiddleware {
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			orig := msg.Context()
			r.inflight.Add(1)
			defer r.inflight.Add(-1)
			settle := func(ok bool) {
				if ok {
					msg.Ack()
				} else {
					msg.Nack()
				}
				select {
				case <-orig.Done():
				case <-time.After(settleWait):
				}
			}
			if r.stopping.Load() {
				settle(false)
				return nil, nil
			}
			// Stop ends the tries' backoff at once.
			ctx, cancel := context.WithCancel(orig)
			defer cancel()
			stop := context.AfterFunc(r.stopCtx, cancel)
			defer stop()
			msg.SetContext(ctx)
			_, err := h(msg)
			msg.SetContext(orig)
			if err == nil {
				settle(true)
				return nil, nil
			}
			attrs := []any{logKeyInput, in.Name, logKeyMessageID, msg.UUID, logKeyCode, string(errcode.Of(err)), logKeyErr, err}
			if Retryable(err) && (r.stopping.Load() || orig.Err() != nil) {
				r.log.InfoContext(orig, "message left for redelivery: the input is stopping", attrs...)
				settle(false)
				return nil, nil
			}
			if perr := t.publishDeadLetter(deadLetter(in, msg, err)); perr != nil {
				r.log.ErrorContext(orig, "message not dead-lettered: the broker will deliver it again",
					append(attrs, "publish_err", perr)...)
				// Not at once: the broker would hand it back right away.
				select {
				case <-time.After(r.cfg.MaxRetryDelay):
				case <-orig.Done():
				case <-r.stopCtx.Done():
				}
				settle(false)
				return nil, nil
			}
			r.log.WarnContext(orig, "message dead-lettered", append(attrs, logKeyDeadLetter, in.DeadLetterDestination())...)
			settle(true)
			return nil, nil
		}
	}
}

// redact returns a broker URL without its password, for logs.
func redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Redacted()
}

// unavailable is a broker that cannot be reached or refused a setup step.
func unavailable(format string, args ...any) error {
	return &Error{Code: errcode.Unavailable, Message: fmt.Sprintf(format, args...)}
}
