package inputs

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wamqp "github.com/ThreeDotsLabs/watermill-amqp/v3/pkg/amqp"
	"github.com/ThreeDotsLabs/watermill/message"
	amqp "github.com/rabbitmq/amqp091-go"
)

// amqpTransport is a queue input: a durable queue consumed with acks after
// handling, and a dead-letter queue published to with confirms, on one
// connection.
type amqpTransport struct {
	in   Input
	conn *wamqp.ConnectionWrapper
	sub  *wamqp.Subscriber
	pub  *wamqp.Publisher
}

var _ transport = (*amqpTransport)(nil)

func openAMQP(ctx context.Context, in Input, cfg Config, logger watermill.LoggerAdapter) (*amqpTransport, error) {
	c := wamqp.NewDurableQueueConfig(in.URL)
	c.Marshaler = amqpMarshaler{}
	c.Consume.Qos.PrefetchCount = cfg.Prefetch
	c.Publish.ConfirmDelivery = true
	dialTimeout := cfg.ConnectTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < dialTimeout {
		dialTimeout = max(time.Until(d), time.Millisecond)
	}
	c.Connection.AmqpConfig = &amqp.Config{
		Properties: amqp.Table{"connection_name": "bizevents input " + in.Name},
		Heartbeat:  10 * time.Second,
		Locale:     "en_US",
		Dial:       amqp.DefaultDial(dialTimeout),
	}
	conn, err := wamqp.NewConnection(c.Connection, logger)
	if err != nil {
		return nil, unavailable("connect to the broker at %s: %v", hostOf(in.URL), cleanAMQPError(err))
	}
	t := &amqpTransport{in: in, conn: conn}
	c.TopologyBuilder = &declareMissing{conn: conn}
	if t.sub, err = wamqp.NewSubscriberWithConnection(c, logger, conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	if t.pub, err = wamqp.NewPublisherWithConnection(c, logger, conn); err != nil {
		_ = conn.Close()
		return nil, err
	}
	// The dead-letter queue is declared now: the default exchange drops a
	// message for a queue that does not exist.
	for _, q := range []string{in.Queue, in.DeadLetterDestination()} {
		if err := t.sub.SubscribeInitialize(q); err != nil {
			_ = t.close()
			return nil, unavailable("declare queue %s: %v", q, cleanAMQPError(err))
		}
	}
	return t, nil
}

func (t *amqpTransport) subscriber() message.Subscriber { return t.sub }
func (t *amqpTransport) topic() string                  { return t.in.Queue }

func (t *amqpTransport) publishDeadLetter(dl *message.Message) error {
	return t.pub.Publish(t.in.DeadLetterDestination(), dl)
}

func (t *amqpTransport) close() error {
	var err error
	if t.pub != nil {
		err = t.pub.Close()
	}
	if t.sub != nil {
		err = errors.Join(err, t.sub.Close())
	}
	return errors.Join(err, t.conn.Close())
}

// declareMissing declares a queue durable only when it does not exist, so
// that a queue declared elsewhere with its own arguments (quorum, TTL,
// length limits) is used as it is.
type declareMissing struct {
	conn *wamqp.ConnectionWrapper
}

func (b *declareMissing) BuildTopology(ch *amqp.Channel, p wamqp.BuildTopologyParams, c wamqp.Config, _ watermill.LoggerAdapter) error {
	// A passive declare of a missing queue closes its channel: probe on a
	// channel of its own.
	probe, err := b.conn.Connection().Channel()
	if err != nil {
		return err
	}
	_, err = probe.QueueDeclarePassive(p.QueueName, c.Queue.Durable, false, false, false, nil)
	if err == nil {
		return probe.Close()
	}
	var aerr *amqp.Error
	if !errors.As(err, &aerr) || aerr.Code != amqp.NotFound {
		_ = probe.Close()
		return err
	}
	_, err = ch.QueueDeclare(p.QueueName, c.Queue.Durable, c.Queue.AutoDelete, c.Queue.Exclusive, c.Queue.NoWait, c.Queue.Arguments)
	return err
}

// ExchangeDeclare does nothing: inputs use the default exchange.
func (b *declareMissing) ExchangeDeclare(*amqp.Channel, string, wamqp.Config) error { return nil }

// amqpMarshaler maps deliveries to watermill messages and back: the UUID
// is the AMQP message-id (else watermill's header), every header becomes
// metadata as a string, and the correlation-id property stands in for a
// missing correlation_id header.
type amqpMarshaler struct{}

func (amqpMarshaler) Marshal(msg *message.Message) (amqp.Publishing, error) {
	headers := make(amqp.Table, len(msg.Metadata))
	for k, v := range msg.Metadata {
		headers[k] = v
	}
	return amqp.Publishing{
		Headers:      headers,
		Body:         msg.Payload,
		MessageId:    msg.UUID,
		DeliveryMode: amqp.Persistent,
		Timestamp:    time.Now().UTC(),
	}, nil
}

func (amqpMarshaler) Unmarshal(d amqp.Delivery) (*message.Message, error) {
	id := d.MessageId
	if id == "" {
		id, _ = d.Headers[wamqp.DefaultMessageUUIDHeaderKey].(string)
	}
	msg := message.NewMessage(id, d.Body)
	for k, v := range d.Headers {
		if k != wamqp.DefaultMessageUUIDHeaderKey {
			msg.Metadata[k] = headerString(v)
		}
	}
	if d.CorrelationId != "" && msg.Metadata.Get(HeaderCorrelationID) == "" {
		msg.Metadata.Set(HeaderCorrelationID, d.CorrelationId)
	}
	return msg, nil
}

// headerString renders an AMQP header value as a string.
func headerString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []byte:
		return string(v)
	case time.Time:
		return v.UTC().Format(time.RFC3339)
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// hostOf is a URL's host and port, for errors that must not show a
// password.
func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Host
}

// cleanAMQPError drops the wrapping watermill adds, keeping the cause.
func cleanAMQPError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	var aerr *amqp.Error
	if errors.As(err, &aerr) {
		return aerr
	}
	return err
}
