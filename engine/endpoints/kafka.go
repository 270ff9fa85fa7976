package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/bizevents/bizevents/internal/kafkaconf"
)

// KafkaSASL authenticates a kafka endpoint to its brokers: Mechanism
// PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512, with User and Password. The zero
// KafkaSASL is none.
type KafkaSASL = kafkaconf.SASL

// KafkaTLS secures a kafka endpoint's connections: Enabled, and
// optionally the PEM CA that signs the brokers' certificates, a client
// Cert and Key (mTLS), the ServerName to verify. The zero KafkaTLS is
// plaintext.
type KafkaTLS = kafkaconf.TLS

// The SASL mechanisms of [KafkaSASL].
const (
	KafkaSASLPlain       = kafkaconf.MechanismPlain
	KafkaSASLSCRAMSHA256 = kafkaconf.MechanismSCRAMSHA256
	KafkaSASLSCRAMSHA512 = kafkaconf.MechanismSCRAMSHA512
)

// DefaultKafkaRetries is KafkaConfig.Retries when none is set.
const DefaultKafkaRetries = 3

// KafkaConfig configures a [Kafka].
type KafkaConfig struct {
	// DialTimeout bounds connecting to a broker. Default:
	// [DefaultDialTimeout].
	DialTimeout time.Duration
	// Retries is how many times the producer sends a record again within
	// one attempt when the broker answers with a transient error (a
	// leader election, too few in-sync replicas), refreshing the cluster's
	// metadata in between; the job runner's retries come after. Default:
	// [DefaultKafkaRetries]; negative is none, which turns the idempotent
	// producer off (it needs retries).
	Retries int
	// RetryBackoff is the wait between those tries. Default: 250ms.
	RetryBackoff time.Duration
	// Logger receives the producers' events. Default: nothing is logged.
	Logger *slog.Logger
	// Now is the clock of webhook-timestamp. Default: time.Now.
	Now func() time.Time
}

// WithDefaults returns a copy of c with the documented defaults filled in.
func (c KafkaConfig) WithDefaults() KafkaConfig {
	if c.DialTimeout <= 0 {
		c.DialTimeout = DefaultDialTimeout
	}
	switch {
	case c.Retries == 0:
		c.Retries = DefaultKafkaRetries
	case c.Retries < 0:
		c.Retries = 0
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 250 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Kafka delivers to kafka endpoints, through watermill-kafka's publisher
// (a sarama sync producer). It keeps one producer per set of brokers,
// SASL and TLS, made on the first delivery and shared by every endpoint
// with the same settings; sarama reconnects to the brokers by itself. It
// is safe for concurrent use. Close it when done.
//
// Each delivery is one record, produced with acks=all: Deliver returns
// once every in-sync replica has it. When the broker has InitProducerId
// (Kafka 0.11 and later, asked with ApiVersions when the producer is
// made), the producer is idempotent, so that its own retries within an
// attempt never write a record twice. The record's:
//
//   - value is what a web hook of the same Format would receive;
//   - key is the event's stream (StreamId in the execution context: the
//     row, or the custom API's stream), so that the events of one row go
//     to one partition, in log order (with the endpoint's ordered
//     setting, also across retries);
//   - headers are the web hook's, in lower case as the queue's and the
//     stream's (content-type, webhook-id, webhook-timestamp,
//     webhook-signature when the endpoint has secrets,
//     x-bizevents-attempt, x-bizevents-replay on a replay, the format's
//     x-ms-dynamics-*, x-bizevents-correlation-id), except that binary
//     mode's CloudEvents attributes are ce_id, ce_type... as the
//     CloudEvents Kafka binding names them, and _watermill_message_uuid,
//     the delivery's ID (on a replay, the ID and the replay's, as a
//     stream's Nats-Msg-Id), which a watermill subscriber reads as the
//     message's UUID.
//
// A consumer deduplicates on webhook-id (the same on every retry and
// replay) or on _watermill_message_uuid (a replay is new): Kafka keeps a
// second copy of an attempt whose acknowledgement was lost. It checks the
// signature with Verify(secret, HeaderFromKafka(record.Headers),
// record.Value, ...).
//
// Why the stream, not the delivery's ID, is the key: the key picks the
// partition, and Kafka orders records within a partition only; a key
// unique per delivery would spread one row's events over every partition.
type Kafka struct {
	cfg  KafkaConfig
	pool *pool[*kafkaConn]

	mu       sync.Mutex
	settings map[string]kafkaconf.Settings // by Key
}

// NewKafka returns a Kafka with cfg's defaults filled in. It connects to
// nothing until the first delivery.
func NewKafka(cfg KafkaConfig) *Kafka {
	k := &Kafka{cfg: cfg.WithDefaults(), settings: map[string]kafkaconf.Settings{}}
	k.pool = newPool(k.dial, func(*kafkaConn) bool { return true }, (*kafkaConn).close)
	return k
}

// Close closes the producers; deliveries after it fail with [ErrClosed].
func (k *Kafka) Close() error { return k.pool.closeAll() }

// kafkaConn is one set of settings' producer.
//
// Why the lock: watermill-kafka's Publisher reads its closed flag in
// Publish and writes it in Close without synchronization, and a publish
// given up on at its timeout is still running; Close waits for it.
type kafkaConn struct {
	pub        *wkafka.Publisher
	idempotent bool

	mu     sync.RWMutex
	closed bool
}

func (c *kafkaConn) publish(topic string, msg *message.Message) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return ErrClosed
	}
	return c.pub.Publish(topic, msg)
}

func (c *kafkaConn) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	return c.pub.Close()
}

func (k *Kafka) dial(key string) (*kafkaConn, error) {
	k.mu.Lock()
	s := k.settings[key]
	k.mu.Unlock()
	cfg, err := kafkaconf.Sarama(s, k.cfg.DialTimeout)
	if err != nil {
		return nil, err
	}
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Return.Errors = true
	cfg.Producer.Retry.Max = k.cfg.Retries
	cfg.Producer.Retry.Backoff = k.cfg.RetryBackoff
	idempotent := false
	if k.cfg.Retries > 0 {
		if idempotent, err = kafkaconf.SupportsIdempotence(cfg, s.Brokers); err != nil {
			return nil, err
		}
	}
	if idempotent {
		cfg.Producer.Idempotent = true
		cfg.Net.MaxOpenRequests = 1
	}
	pub, err := wkafka.NewPublisher(wkafka.PublisherConfig{
		Brokers:               s.Brokers,
		Marshaler:             kafkaconf.Marshaler{},
		OverwriteSaramaConfig: cfg,
	}, watermillLogger(k.cfg.Logger))
	if err != nil {
		return nil, err
	}
	if k.cfg.Logger != nil {
		k.cfg.Logger.Debug("Kafka producer ready", "brokers", strings.Join(s.Brokers, ","), "idempotent", idempotent)
	}
	return &kafkaConn{pub: pub, idempotent: idempotent}, nil
}

// Deliver makes one attempt to publish d to e, a kafka endpoint, and says
// what happened; it never retries past the producer's own Retries (the
// job runner does, as Attempt.Retryable says). The attempt ends at e's
// Timeout or when ctx ends, whichever is first. Attempt.Status is 0 and
// Response empty; Err is a [*NetworkError] when no broker can be reached
// (retryable), [ErrTimeout] when the record is not acknowledged in time
// (retryable: the record may still be written, with the same headers), a
// [*BrokerError] when a broker refuses the record (retryable for a
// transient error such as a leader election or too few in-sync replicas;
// not for a missing authorization, a record too large, an invalid topic,
// failed authentication), [ErrClosed] after Close, or [*FieldError]s and
// [ErrInvalidDelivery] for an endpoint or delivery that cannot be sent.
func (k *Kafka) Deliver(ctx context.Context, e Endpoint, d Delivery) Attempt {
	e = e.WithDefaults()
	if err := checkSender(&e, KindKafka, "Kafka"); err != nil {
		return Attempt{Err: err}
	}
	if err := d.validate(); err != nil {
		return Attempt{Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, err)}
	}
	start := time.Now()
	actx, cancel := context.WithTimeoutCause(ctx, e.Timeout, errAttemptTimeout)
	defer cancel()
	a := k.deliver(ctx, actx, &e, &d)
	a.Duration = time.Since(start)
	return a
}

func (k *Kafka) deliver(ctx, actx context.Context, e *Endpoint, d *Delivery) Attempt {
	msg, err := kafkaMessage(e, d, k.cfg.Now())
	if err != nil {
		return Attempt{Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, err)}
	}
	s := kafkaconf.Settings{Brokers: e.Brokers, SASL: e.SASL, TLS: e.TLS}
	key := s.Key()
	k.mu.Lock()
	k.settings[key] = s
	k.mu.Unlock()
	pc, err := k.pool.get(actx, key)
	if err != nil {
		return k.failed(ctx, actx, e, err)
	}
	if err := publishWithin(actx, func() error { return pc.conn.publish(e.Topic, msg) }); err != nil {
		return k.failed(ctx, actx, e, err)
	}
	return Attempt{}
}

// kafkaMessage is the watermill message of a delivery: the body, the
// headers, the stream as the key.
func kafkaMessage(e *Endpoint, d *Delivery, now time.Time) (*message.Message, error) {
	m, err := encodeDelivery(e, d)
	if err != nil {
		return nil, err
	}
	md := message.Metadata{"content-type": m.contentType}
	if err := m.brokerHeaders(e, d, now, func(k, v string) { md[kafkaHeaderName(k)] = v }); err != nil {
		return nil, err
	}
	key := m.c.StreamID
	if key == "" {
		key = d.ID
	}
	md[kafkaconf.KeyMetadata] = key
	msg := message.NewMessage(d.streamMsgID(), m.body)
	msg.Metadata = md
	return msg, nil
}

// kafkaHeaderName is a broker header's name on Kafka: the CloudEvents
// attributes' ce- prefix is ce_, as the CloudEvents Kafka binding writes
// it.
func kafkaHeaderName(name string) string {
	if rest, ok := strings.CutPrefix(name, "ce-"); ok {
		return "ce_" + rest
	}
	return name
}

// failed words an attempt the brokers or the connection failed.
func (k *Kafka) failed(ctx, actx context.Context, e *Endpoint, err error) Attempt {
	if a, ok := brokerFailure(ctx, actx, e); ok {
		return a
	}
	if errors.Is(err, ErrClosed) {
		return Attempt{Retryable: true, Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, ErrClosed)}
	}
	switch kafkaconf.Classify(err) {
	case kafkaconf.Network:
		return Attempt{Retryable: true, Err: &NetworkError{Endpoint: e.Name, Err: err}}
	case kafkaconf.Refused:
		return Attempt{Err: &BrokerError{Endpoint: e.Name, Err: err}}
	}
	return Attempt{Retryable: true, Err: &BrokerError{Endpoint: e.Name, Err: err}}
}

// HeaderFromKafka returns a Kafka record's headers as an http.Header for
// [Verify] (names canonicalized; ce_ attributes keep their underscore).
func HeaderFromKafka(headers []*sarama.RecordHeader) http.Header {
	out := make(http.Header, len(headers))
	for _, h := range headers {
		if h != nil {
			out.Add(string(h.Key), string(h.Value))
		}
	}
	return out
}

// validateKafka checks a kafka endpoint's brokers, topic, SASL and TLS.
func validateKafka(e Endpoint, bad func(field, format string, args ...any)) {
	if e.URL != "" {
		bad("url", "a kafka endpoint names its brokers in brokers, not a url")
	}
	kafkaconf.Check(kafkaconf.Settings{Brokers: e.Brokers, SASL: e.SASL, TLS: e.TLS}, bad)
	if e.Topic == "" {
		bad("topic", "is required: the Kafka topic to publish to, such as bizevents.orders")
	} else if p := kafkaconf.TopicProblem(e.Topic); p != "" {
		bad("topic", "%s", p)
	}
	if (e.Auth.Type != "" && e.Auth.Type != AuthNone) || e.Auth.Name != "" || e.Auth.Value != "" {
		bad("auth", "applies to web hooks: a kafka endpoint's credentials are in sasl (use env:NAME to keep them out of the solution)")
	}
	onlyFor(e, bad, KindQueue, "queue", e.Queue)
	onlyFor(e, bad, KindQueue, "exchange", e.Exchange)
	onlyFor(e, bad, KindStream, "subject", e.Subject)
	onlyFor(e, bad, KindStream, "stream", e.Stream)
}

// kafkaOnly reports the kafka fields set on an endpoint of another kind.
func kafkaOnly(e Endpoint, bad func(field, format string, args ...any)) {
	if len(e.Brokers) > 0 {
		bad("brokers", "applies to kafka endpoints, not to a %s", e.Kind)
	}
	onlyFor(e, bad, KindKafka, "topic", e.Topic)
	if e.SASL != (KafkaSASL{}) {
		bad("sasl", "applies to kafka endpoints, not to a %s", e.Kind)
	}
	if e.TLS != (KafkaTLS{}) {
		bad("tls", "applies to kafka endpoints, not to a %s", e.Kind)
	}
}
