package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	wnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"
)

// StreamConfig configures a [Stream].
type StreamConfig struct {
	// DialTimeout bounds connecting to a NATS server. Default:
	// [DefaultDialTimeout].
	DialTimeout time.Duration
	// Logger receives the connections' events (disconnected, reconnected,
	// asynchronous errors). Default: nothing is logged.
	Logger *slog.Logger
	// Now is the clock of webhook-timestamp. Default: time.Now.
	Now func() time.Time
}

// WithDefaults returns a copy of c with the documented defaults filled in.
func (c StreamConfig) WithDefaults() StreamConfig {
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Stream delivers to stream endpoints: NATS JetStream, through
// watermill-nats. It keeps one connection and one publisher per server
// URL, dialed on the first delivery and shared by every endpoint on that
// URL; a lost connection reconnects by itself, without end (deliveries
// meanwhile time out, retryable). It is safe for concurrent use. Close it
// when done.
//
// Each delivery is one JetStream publish, acknowledged by the stream that
// stored it: Deliver returns once the stream has the message. The body is
// what a web hook of the same Format would receive; the headers are the
// web hook's, in lower case as the CloudEvents NATS binding and Standard
// Webhooks write them (content-type, webhook-id, webhook-timestamp,
// webhook-signature when the endpoint has secrets, x-bizevents-attempt,
// x-bizevents-replay on a replay, the format's ce-* or x-ms-dynamics-*),
// x-bizevents-correlation-id, and Nats-Msg-Id: the
// delivery's ID (on a replay, the ID and the replay's, so that the
// replay is not taken for a retry), so that the stream's duplicate window
// (two minutes unless the stream says otherwise) drops a second copy of
// an attempt that timed out after all. An endpoint naming its Stream also
// sends Nats-Expected-Stream, so that a subject another stream captures
// fails instead of landing elsewhere. A receiver checks the signature
// with Verify(secret, HeaderFrom(msg.Header), msg.Data, ...).
//
// Why a stream named by the endpoint is created when missing: a solution
// can then be imported and run against an empty JetStream (make run,
// tests, a new environment) with nothing set up by hand, the way a queue
// is declared. An existing stream is never changed: retention, replicas
// and limits are the broker owner's.
type Stream struct {
	cfg  StreamConfig
	pool *pool[*natsConn]
}

// NewStream returns a Stream with cfg's defaults filled in. It connects to
// nothing until the first delivery.
func NewStream(cfg StreamConfig) *Stream {
	s := &Stream{cfg: cfg.WithDefaults()}
	s.pool = newPool(s.dial, func(c *natsConn) bool { return !c.nc.IsClosed() }, func(c *natsConn) error { return c.pub.Close() })
	return s
}

// Close closes the connections; deliveries after it fail with
// [ErrClosed].
func (s *Stream) Close() error { return s.pool.closeAll() }

// natsConn is one server's connection and publisher.
type natsConn struct {
	nc  *nats.Conn
	js  nats.JetStreamContext
	pub *wnats.Publisher

	mu      sync.Mutex
	ensured map[[2]string]bool // stream, subject
}

// natsWait is how long a publish waits for the stream's ack at most; a
// delivery waits until its endpoint's Timeout, which may be shorter.
const natsWait = DefaultTimeout

func (s *Stream) dial(url string) (*natsConn, error) {
	log := s.cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	dialer := &recordingDialer{d: net.Dialer{Timeout: s.cfg.DialTimeout, KeepAlive: 30 * time.Second}}
	nc, err := nats.Connect(url,
		nats.Name("bizevents"),
		nats.Timeout(s.cfg.DialTimeout),
		nats.SetCustomDialer(dialer),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("NATS connection lost, reconnecting", "err", err)
			}
		}),
		nats.ReconnectHandler(func(*nats.Conn) { log.Info("NATS connection restored") }),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) { log.Warn("NATS", "err", err) }),
	)
	if err != nil {
		if last := dialer.last(); last != nil && errors.Is(err, nats.ErrNoServers) {
			// nats.go says only that no server answered: say why.
			err = fmt.Errorf("%w: %w", err, last)
		}
		return nil, err
	}
	js, err := nc.JetStream(nats.MaxWait(natsWait))
	if err != nil {
		nc.Close()
		return nil, err
	}
	pub, err := wnats.NewPublisherWithNatsConn(nc, wnats.PublisherPublishConfig{
		Marshaler:         natsMarshaler{},
		SubjectCalculator: wnats.DefaultSubjectCalculator,
		JetStream:         wnats.JetStreamConfig{ConnectOptions: []nats.JSOpt{nats.MaxWait(natsWait)}},
	}, watermillLogger(s.cfg.Logger))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &natsConn{nc: nc, js: js, pub: pub, ensured: map[[2]string]bool{}}, nil
}

// recordingDialer dials for nats.go and keeps the last error.
type recordingDialer struct {
	d   net.Dialer
	mu  sync.Mutex
	err error
}

func (r *recordingDialer) Dial(network, address string) (net.Conn, error) {
	c, err := r.d.Dial(network, address)
	r.mu.Lock()
	r.err = err
	r.mu.Unlock()
	return c, err
}

func (r *recordingDialer) last() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// JetStream's error codes that Deliver tells apart.
const (
	jsStreamNotMatch       = 10060 // Nats-Expected-Stream is not the stream of the subject
	jsStreamSubjectOverlap = 10065 // another stream captures the subject
)

// Deliver makes one attempt to publish d to e, a stream endpoint, and
// says what happened; it never retries (the job runner does, as
// Attempt.Retryable says). The attempt ends at e's Timeout or when ctx
// ends, whichever is first. Attempt.Status is 0 and Response empty; Err
// is a [*NetworkError] when the server cannot be reached (retryable),
// [ErrTimeout] when no stream acknowledges in time (retryable: a second
// copy is dropped within the duplicate window), a [*BrokerError] when the
// server refuses the message (retryable when no stream captures the
// subject, as during a leader election; not when the subject belongs to
// another stream than e's, or the credentials are refused), [ErrClosed]
// after Close, or [*FieldError]s and [ErrInvalidDelivery] for an
// endpoint or delivery that cannot be sent.
func (s *Stream) Deliver(ctx context.Context, e Endpoint, d Delivery) Attempt {
	e = e.WithDefaults()
	if err := checkSender(&e, KindStream, "Stream"); err != nil {
		return Attempt{Err: err}
	}
	if err := d.validate(); err != nil {
		return Attempt{Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, err)}
	}
	start := time.Now()
	actx, cancel := context.WithTimeoutCause(ctx, e.Timeout, errAttemptTimeout)
	defer cancel()
	a := s.deliver(ctx, actx, &e, &d)
	a.Duration = time.Since(start)
	return a
}

func (s *Stream) deliver(ctx, actx context.Context, e *Endpoint, d *Delivery) Attempt {
	m, err := encodeDelivery(e, d)
	if err != nil {
		return Attempt{Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, err)}
	}
	md := message.Metadata{"content-type": m.contentType}
	if err := m.brokerHeaders(e, d, s.cfg.Now(), md.Set); err != nil {
		return Attempt{Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, err)}
	}
	md[nats.MsgIdHdr] = d.streamMsgID()
	if e.Stream != "" {
		md[nats.ExpectedStreamHdr] = e.Stream
	}

	pc, err := s.pool.get(actx, e.URL)
	if err != nil {
		return s.failed(ctx, actx, e, err)
	}
	c := pc.conn
	if e.Stream != "" {
		if err := c.ensure(actx, e.Stream, e.Subject); err != nil {
			return s.failed(ctx, actx, e, err)
		}
	}
	msg := message.NewMessageWithContext(actx, d.ID, m.body)
	msg.Metadata = md
	err = publishWithin(actx, func() error { return c.pub.Publish(e.Subject, msg) })
	if err == nil {
		return Attempt{}
	}
	if errors.Is(err, nats.ErrNoStreamResponse) || errors.Is(err, nats.ErrNoResponders) {
		// The stream may have been deleted: create it again next time.
		c.forget(e.Stream, e.Subject)
	}
	return s.failed(ctx, actx, e, err)
}

// streamMsgID is the Nats-Msg-Id of a delivery: its ID, and on a replay
// the replay's too, so that the duplicate window keeps a replay.
func (d *Delivery) streamMsgID() string {
	if !d.Replay {
		return d.ID
	}
	if d.ReplayID == "" {
		return d.ID + "/replay"
	}
	return d.ID + "/replay/" + d.ReplayID
}

// failed words an attempt the server or the connection failed.
func (s *Stream) failed(ctx, actx context.Context, e *Endpoint, err error) Attempt {
	if a, ok := brokerFailure(ctx, actx, e); ok {
		return a
	}
	var apiErr *nats.APIError
	var oe *net.OpError
	switch {
	case errors.Is(err, ErrClosed):
		return Attempt{Retryable: true, Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, ErrClosed)}
	case errors.Is(err, nats.ErrTimeout):
		return Attempt{Retryable: true, Err: fmt.Errorf("endpoints: deliver to %s: no ack from the stream: %w", e.Name, ErrTimeout)}
	case errors.Is(err, nats.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		return Attempt{Retryable: true, Err: &BrokerError{Endpoint: e.Name, Err: fmt.Errorf("no stream captures subject %s: %w", e.Subject, err)}}
	case errors.Is(err, nats.ErrAuthorization), errors.Is(err, nats.ErrAuthExpired), errors.Is(err, nats.ErrPermissionViolation):
		return Attempt{Err: &BrokerError{Endpoint: e.Name, Err: err}}
	case errors.As(err, &apiErr):
		switch {
		case apiErr.ErrorCode == jsStreamNotMatch:
			return Attempt{Err: &BrokerError{Endpoint: e.Name, Err: fmt.Errorf("subject %s is not captured by stream %s: %w", e.Subject, e.Stream, err)}}
		case apiErr.ErrorCode == jsStreamSubjectOverlap:
			return Attempt{Err: &BrokerError{Endpoint: e.Name, Err: fmt.Errorf("create stream %s: subject %s is captured by another stream: %w", e.Stream, e.Subject, err)}}
		case apiErr.Code >= 400 && apiErr.Code < 500:
			return Attempt{Err: &BrokerError{Endpoint: e.Name, Err: err}}
		}
		return Attempt{Retryable: true, Err: &BrokerError{Endpoint: e.Name, Err: err}}
	case errors.As(err, &oe), errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, nats.ErrConnectionReconnecting):
		return Attempt{Retryable: true, Err: &NetworkError{Endpoint: e.Name, Err: err}}
	}
	return Attempt{Retryable: true, Err: &BrokerError{Endpoint: e.Name, Err: err}}
}

// ensure creates stream, capturing subject, when it does not exist; it
// is checked once per connection.
func (c *natsConn) ensure(actx context.Context, stream, subject string) error {
	key := [2]string{stream, subject}
	c.mu.Lock()
	done := c.ensured[key]
	c.mu.Unlock()
	if done {
		return nil
	}
	_, err := c.js.StreamInfo(stream, nats.Context(actx))
	if errors.Is(err, nats.ErrStreamNotFound) {
		_, err = c.js.AddStream(&nats.StreamConfig{
			Name:        stream,
			Description: "created by bizevents for its stream endpoints",
			Subjects:    []string{subject},
			Storage:     nats.FileStorage,
			Retention:   nats.LimitsPolicy,
		}, nats.Context(actx))
		if errors.Is(err, nats.ErrStreamNameAlreadyInUse) {
			err = nil // created at the same time by another delivery or process
		}
	}
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.ensured[key] = true
	c.mu.Unlock()
	return nil
}

func (c *natsConn) forget(stream, subject string) {
	c.mu.Lock()
	delete(c.ensured, [2]string{stream, subject})
	c.mu.Unlock()
}

// natsMarshaler makes a watermill message into a NATS message: the
// payload as it is, the metadata as headers.
type natsMarshaler struct{}

func (natsMarshaler) Marshal(topic string, msg *message.Message) (*nats.Msg, error) {
	h := make(nats.Header, len(msg.Metadata))
	for k, v := range msg.Metadata {
		h[k] = []string{v}
	}
	return &nats.Msg{Subject: topic, Data: msg.Payload, Header: h}, nil
}
