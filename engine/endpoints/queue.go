package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

// DefaultQueueChannels is QueueConfig.Channels when none is set.
const DefaultQueueChannels = 16

// QueueAppID is the app_id property of every message a [Queue] publishes.
const QueueAppID = "bizevents"

// QueueConfig configures a [Queue].
type QueueConfig struct {
	// Channels is how many AMQP channels each broker connection opens for
	// publishing, each waiting for one confirm at a time: how many
	// deliveries to one URL are in flight at once (more wait for a
	// channel). Default: [DefaultQueueChannels].
	Channels int
	// DialTimeout bounds connecting to a broker. Default:
	// [DefaultDialTimeout].
	DialTimeout time.Duration
	// Logger receives the connections' events (a connection lost).
	// Default: nothing is logged.
	Logger *slog.Logger
	// Now is the clock of webhook-timestamp and of the messages'
	// timestamp. Default: time.Now.
	Now func() time.Time
}

// WithDefaults returns a copy of c with the documented defaults filled in.
func (c QueueConfig) WithDefaults() QueueConfig {
	if c.Channels <= 0 {
		c.Channels = DefaultQueueChannels
	}
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Queue delivers to queue endpoints: RabbitMQ, or another AMQP 0.9.1
// broker. It keeps one connection per broker URL, dialed on the first
// delivery and shared by every endpoint on that URL, with up to
// QueueConfig.Channels channels in confirm mode; a connection found lost
// is dialed again by the next delivery (the attempts it failed are
// retryable). It is safe for concurrent use. Close it when done.
//
// Each delivery is one persistent message (delivery mode 2) whose body is
// what a web hook of the same Format would receive, published with
// publisher confirms and the mandatory flag: Deliver returns once the
// broker has taken responsibility for the message (written it to disk,
// for a durable queue), and a message no queue would receive is an error
// (retryable) rather than dropped. Its properties: message_id the
// delivery's ID, correlation_id the event's, content_type the format's,
// type the event's CloudEvents type, app_id [QueueAppID], timestamp the
// delivery's. Its headers are the web hook's, in lower case (see the
// package doc): webhook-id, webhook-timestamp, webhook-signature (when the
// endpoint has secrets), x-bizevents-attempt, x-bizevents-replay on a
// replay, x-bizevents-correlation-id, and the format's (ce-* in binary
// mode, x-ms-dynamics-* with the context), string values all; a receiver
// checks the signature with Verify(secret, HeaderFrom(msg.Headers), ...).
//
// Why amqp091-go and not watermill-amqp's publisher: watermill-amqp
// v3.0.2 reconnects by rewriting its connection's fields while publishes
// read them (a data race, seen under -race in TestQueueReconnects), drops
// a pooled channel it fails to reopen (after a few lost connections the
// pool is empty and every publish waits forever), and panics closing such
// a channel. Deliveries need none of its routing; a connection and a few
// confirm channels are simpler to get right here.
type Queue struct {
	cfg  QueueConfig
	pool *pool[*amqpConn]
}

// NewQueue returns a Queue with cfg's defaults filled in. It connects to
// nothing until the first delivery.
func NewQueue(cfg QueueConfig) *Queue {
	q := &Queue{cfg: cfg.WithDefaults()}
	q.pool = newPool(q.dial, (*amqpConn).alive, (*amqpConn).close)
	return q
}

// Close closes the connections; deliveries after it fail with
// [ErrClosed].
func (q *Queue) Close() error { return q.pool.closeAll() }

// amqpConn is one broker's connection and its publishing channels.
type amqpConn struct {
	conn *amqp.Connection
	log  *slog.Logger
	// slots holds a token per channel that may be in use; free the
	// channels not in use, open and in confirm mode.
	slots chan struct{}
	free  chan *amqpChannel

	mu       sync.Mutex
	declared map[amqpDest]bool
}

// amqpChannel is a channel in confirm mode, used by one publish at a time.
type amqpChannel struct {
	ch      *amqp.Channel
	closed  chan *amqp.Error
	returns chan amqp.Return
}

// amqpDest is where a queue endpoint's messages go.
type amqpDest struct{ queue, exchange string }

func (q *Queue) dial(url string) (*amqpConn, error) {
	conn, err := amqp.DialConfig(url, amqp.Config{
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Dial:       amqp.DefaultDial(q.cfg.DialTimeout),
		Properties: amqp.Table{"connection_name": "bizevents"},
	})
	if err != nil {
		return nil, err
	}
	log := q.cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &amqpConn{
		conn:     conn,
		log:      log,
		slots:    make(chan struct{}, q.cfg.Channels),
		free:     make(chan *amqpChannel, q.cfg.Channels),
		declared: map[amqpDest]bool{},
	}
	lost := conn.NotifyClose(make(chan *amqp.Error, 1))
	go func() {
		if err := <-lost; err != nil {
			log.Warn("AMQP connection lost; the next delivery connects again", "err", err)
		}
	}()
	return c, nil
}

func (c *amqpConn) alive() bool { return !c.conn.IsClosed() }

func (c *amqpConn) close() error {
	err := c.conn.Close()
	if errors.Is(err, amqp.ErrClosed) {
		return nil
	}
	return err
}

// channel takes a channel for one publish, opening one when none is free
// and fewer than Channels are open; it waits for one at most until ctx
// ends.
func (c *amqpConn) channel(ctx context.Context) (*amqpChannel, error) {
	select {
	case c.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		select {
		case ch := <-c.free:
			if ch.ch.IsClosed() {
				continue
			}
			return ch, nil
		default:
		}
		ch, err := c.openChannel()
		if err != nil {
			<-c.slots
			return nil, err
		}
		return ch, nil
	}
}

func (c *amqpConn) openChannel() (*amqpChannel, error) {
	ch, err := c.conn.Channel()
	if err != nil {
		return nil, err
	}
	if err := ch.Confirm(false); err != nil {
		_ = ch.Close()
		return nil, err
	}
	return &amqpChannel{
		ch:     ch,
		closed: ch.NotifyClose(make(chan *amqp.Error, 1)),
		// One publish at a time: at most one return is waiting.
		returns: ch.NotifyReturn(make(chan amqp.Return, 1)),
	}, nil
}

// release gives a channel back after a publish; a channel the publish
// broke is closed instead.
func (c *amqpConn) release(ch *amqpChannel, broken bool) {
	if broken || ch.ch.IsClosed() {
		_ = ch.ch.Close()
	} else {
		c.free <- ch
	}
	<-c.slots
}

// errUnroutable is a message the broker confirmed but no queue received.
var errUnroutable = errors.New("no queue is bound to receive the message: the broker returned it")

// publish sends one message on ch and waits for its confirm until ctx
// ends. It reports whether the channel is still usable.
func (ch *amqpChannel) publish(ctx context.Context, exchange, key string, p amqp.Publishing) (usable bool, err error) {
	dc, err := ch.ch.PublishWithDeferredConfirmWithContext(ctx, exchange, key, true, false, p)
	if err != nil {
		return false, err
	}
	acked, err := dc.WaitContext(ctx)
	if err != nil {
		// Given up waiting: the confirm, when it comes, would be taken for
		// the channel's next message's.
		return false, err
	}
	if !acked {
		// The channel closed (nacking what it had), or the broker nacked.
		select {
		case cerr := <-ch.closed:
			if cerr != nil {
				return false, cerr
			}
			return false, amqp.ErrClosed
		default:
			return !ch.ch.IsClosed(), errors.New("the broker refused the message (negative confirm)")
		}
	}
	// A return comes before the confirm of the same message.
	select {
	case r := <-ch.returns:
		return true, fmt.Errorf("%w (%d %s)", errUnroutable, r.ReplyCode, r.ReplyText)
	default:
		return true, nil
	}
}

// Deliver makes one attempt to publish d to e, a queue endpoint, and says
// what happened; it never retries (the job runner does, as
// Attempt.Retryable says). The attempt ends at e's Timeout or when ctx
// ends, whichever is first. Attempt.Status is 0 and Response empty; Err
// is a [*NetworkError] when the broker cannot be reached or the
// connection is lost (retryable), [ErrTimeout] when it does not confirm
// in time (retryable: the message may still arrive, with the same id), a
// [*BrokerError] when it refuses the message (retryable for a negative
// confirm or a message no queue received, not for a destination that does
// not exist or may not be used: a missing exchange, access refused),
// [ErrClosed] after Close, or [*FieldError]s and [ErrInvalidDelivery] for
// an endpoint or delivery that cannot be sent.
func (q *Queue) Deliver(ctx context.Context, e Endpoint, d Delivery) Attempt {
	e = e.WithDefaults()
	if err := checkSender(&e, KindQueue, "Queue"); err != nil {
		return Attempt{Err: err}
	}
	if err := d.validate(); err != nil {
		return Attempt{Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, err)}
	}
	start := time.Now()
	actx, cancel := context.WithTimeoutCause(ctx, e.Timeout, errAttemptTimeout)
	defer cancel()
	a := q.deliver(ctx, actx, &e, &d)
	a.Duration = time.Since(start)
	return a
}

func (q *Queue) deliver(ctx, actx context.Context, e *Endpoint, d *Delivery) Attempt {
	m, err := encodeDelivery(e, d)
	if err != nil {
		return Attempt{Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, err)}
	}
	now := q.cfg.Now()
	p := amqp.Publishing{
		Headers:       make(amqp.Table, 16),
		ContentType:   m.contentType,
		DeliveryMode:  amqp.Persistent,
		CorrelationId: m.correlationID(),
		MessageId:     d.ID,
		Timestamp:     time.Unix(now.Unix(), 0),
		Type:          CloudEventType(m.c),
		AppId:         QueueAppID,
		Body:          m.body,
	}
	if err := m.brokerHeaders(e, d, now, func(k, v string) { p.Headers[k] = v }); err != nil {
		return Attempt{Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, err)}
	}
	key := e.Queue
	if key == "" {
		key = p.Type
	}

	pc, err := q.pool.get(actx, e.URL)
	if err != nil {
		return q.failed(ctx, actx, e, err)
	}
	c := pc.conn
	dest := amqpDest{queue: e.Queue, exchange: e.Exchange}
	if err := c.declare(actx, dest); err != nil {
		return q.failed(ctx, actx, e, err)
	}
	ch, err := c.channel(actx)
	if err != nil {
		return q.failed(ctx, actx, e, err)
	}
	usable, err := ch.publish(actx, e.Exchange, key, p)
	c.release(ch, !usable)
	if errors.Is(err, errUnroutable) {
		// The queue was deleted, or the binding removed: declare again
		// next time.
		c.forget(dest)
	}
	if err != nil {
		return q.failed(ctx, actx, e, err)
	}
	return Attempt{}
}

// failed words an attempt the broker or the connection failed.
func (q *Queue) failed(ctx, actx context.Context, e *Endpoint, err error) Attempt {
	if a, ok := brokerFailure(ctx, actx, e); ok {
		return a
	}
	if errors.Is(err, ErrClosed) {
		return Attempt{Retryable: true, Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, ErrClosed)}
	}
	if errors.Is(err, amqp.ErrClosed) {
		return Attempt{Retryable: true, Err: &NetworkError{Endpoint: e.Name, Err: err}}
	}
	var ae *amqp.Error
	if errors.As(err, &ae) {
		switch ae.Code {
		case amqp.NotFound, amqp.AccessRefused, amqp.PreconditionFailed, amqp.NotAllowed:
			return Attempt{Err: &BrokerError{Endpoint: e.Name, Err: err}}
		}
		if !ae.Server {
			return Attempt{Retryable: true, Err: &NetworkError{Endpoint: e.Name, Err: err}}
		}
		return Attempt{Retryable: true, Err: &BrokerError{Endpoint: e.Name, Err: err}}
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return Attempt{Retryable: true, Err: &NetworkError{Endpoint: e.Name, Err: err}}
	}
	return Attempt{Retryable: true, Err: &BrokerError{Endpoint: e.Name, Err: err}}
}

// declare makes sure dest exists, once per connection: the exchange is
// found (never declared: its type is the broker owner's choice), the
// queue declared when missing (durable) and bound to the exchange.
func (c *amqpConn) declare(actx context.Context, dest amqpDest) error {
	c.mu.Lock()
	done := c.declared[dest]
	c.mu.Unlock()
	if done {
		return nil
	}
	if err := publishWithin(actx, func() error { return c.topology(dest) }); err != nil {
		return err
	}
	c.mu.Lock()
	c.declared[dest] = true
	c.mu.Unlock()
	return nil
}

func (c *amqpConn) forget(dest amqpDest) {
	c.mu.Lock()
	delete(c.declared, dest)
	c.mu.Unlock()
}

func (c *amqpConn) topology(dest amqpDest) error {
	ch, err := c.conn.Channel()
	if err != nil {
		return err
	}
	// A failed passive declare closes the channel: the declaration after
	// it gets a channel of its own.
	defer func() { _ = ch.Close() }()
	if dest.exchange != "" {
		if err := ch.ExchangeDeclarePassive(dest.exchange, amqp.ExchangeTopic, true, false, false, false, nil); err != nil {
			return fmt.Errorf("exchange %q: %w", dest.exchange, err)
		}
	}
	if dest.queue == "" {
		return nil
	}
	if _, err := ch.QueueDeclarePassive(dest.queue, true, false, false, false, nil); err != nil {
		var ae *amqp.Error
		if !errors.As(err, &ae) || ae.Code != amqp.NotFound {
			return fmt.Errorf("queue %q: %w", dest.queue, err)
		}
		if ch, err = c.conn.Channel(); err != nil {
			return err
		}
		defer func() { _ = ch.Close() }()
		if _, err := ch.QueueDeclare(dest.queue, true, false, false, false, nil); err != nil {
			return fmt.Errorf("declare queue %q: %w", dest.queue, err)
		}
	}
	if dest.exchange != "" {
		if err := ch.QueueBind(dest.queue, dest.queue, dest.exchange, false, nil); err != nil {
			return fmt.Errorf("bind queue %q to exchange %q: %w", dest.queue, dest.exchange, err)
		}
	}
	return nil
}

// checkSender reports an endpoint that does not validate or that is not
// of the sender's kind.
func checkSender(e *Endpoint, kind Kind, sender string) error {
	if err := e.Validate(); err != nil {
		return fmt.Errorf("endpoints: deliver: %w", err)
	}
	if e.Kind != kind {
		return fmt.Errorf("endpoints: deliver: %w", &FieldError{Endpoint: e.Name, Field: "kind",
			Problem: fmt.Sprintf("%s delivers to %s endpoints, not to a %s", sender, kind, e.Kind)})
	}
	return nil
}
