package inputs

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/IBM/sarama"
	"github.com/ThreeDotsLabs/watermill"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/ThreeDotsLabs/watermill/message"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/internal/kafkaconf"
)

// KafkaSASL authenticates a kafka input to its brokers: Mechanism PLAIN,
// SCRAM-SHA-256 or SCRAM-SHA-512, with User and Password.
type KafkaSASL = kafkaconf.SASL

// KafkaTLS secures a kafka input's connections (Enabled, a PEM CA, a
// client Cert and Key, ServerName).
type KafkaTLS = kafkaconf.TLS

// The headers a kafka input adds to a dead letter, besides
// [HeaderErrorCode] and the others: where the record was read.
const (
	HeaderKafkaPartition = "x-bizevents-kafka-partition"
	HeaderKafkaOffset    = "x-bizevents-kafka-offset"
)

// ConsumerGroupID returns a kafka input's consumer group: ConsumerGroup,
// or [DurablePrefix] + Name.
func (in Input) ConsumerGroupID() string {
	if in.ConsumerGroup != "" {
		return in.ConsumerGroup
	}
	return DurablePrefix + in.Name
}

// kafkaTransport is a kafka input: a consumer group reading the topic
// (watermill-kafka's subscriber), each record's offset committed once the
// runner acked it, and the dead-letter topic published to with acks=all.
type kafkaTransport struct {
	in  Input
	sub *wkafka.Subscriber
	pub *wkafka.Publisher
}

var _ transport = (*kafkaTransport)(nil)

func openKafka(ctx context.Context, in Input, cfg Config, logger watermill.LoggerAdapter) (*kafkaTransport, error) {
	timeout := cfg.ConnectTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = max(time.Until(d), time.Millisecond)
	}
	s := kafkaconf.Settings{Brokers: in.Brokers, SASL: in.SASL, TLS: in.TLS}
	if err := checkTopics(ctx, s, timeout, in.Topic, in.DeadLetterDestination()); err != nil {
		return nil, err
	}
	ccfg, err := consumerConfig(s, timeout)
	if err != nil {
		return nil, err
	}
	pcfg, err := kafkaconf.Sarama(s, timeout)
	if err != nil {
		return nil, err
	}
	pcfg.Producer.RequiredAcks = sarama.WaitForAll
	pcfg.Producer.Return.Successes = true
	pcfg.Producer.Return.Errors = true
	if idempotent, err := kafkaconf.SupportsIdempotence(pcfg, s.Brokers); err != nil {
		return nil, unavailable("connect to the brokers %s: %v", strings.Join(s.Brokers, ","), err)
	} else if idempotent {
		pcfg.Producer.Idempotent = true
		pcfg.Net.MaxOpenRequests = 1
	}
	t := &kafkaTransport{in: in}
	t.sub, err = wkafka.NewSubscriber(wkafka.SubscriberConfig{
		Brokers:               s.Brokers,
		Unmarshaler:           kafkaUnmarshaler{keyIsID: in.KeyIsMessageID},
		OverwriteSaramaConfig: ccfg,
		ConsumerGroup:         in.ConsumerGroupID(),
		NackResendSleep:       nakDelay,
		ReconnectRetrySleep:   time.Second,
	}, logger)
	if err != nil {
		return nil, err
	}
	t.pub, err = wkafka.NewPublisher(wkafka.PublisherConfig{
		Brokers:               s.Brokers,
		Marshaler:             kafkaconf.Marshaler{},
		OverwriteSaramaConfig: pcfg,
	}, logger)
	if err != nil {
		_ = t.sub.Close()
		return nil, unavailable("connect to the brokers %s: %v", strings.Join(s.Brokers, ","), err)
	}
	return t, nil
}

// consumerConfig is the consumer group's configuration: a new group reads
// the topic from its start (as a new JetStream consumer does), and each
// record's offset is committed when it is acked, not on a timer, so that
// an offset is never committed before its record ran.
func consumerConfig(s kafkaconf.Settings, timeout time.Duration) (*sarama.Config, error) {
	c, err := kafkaconf.Sarama(s, timeout)
	if err != nil {
		return nil, err
	}
	c.Consumer.Return.Errors = true
	c.Consumer.Offsets.Initial = sarama.OffsetOldest
	c.Consumer.Offsets.AutoCommit.Enable = false
	return c, nil
}

// checkTopics checks, within timeout, that the brokers answer and that
// each topic exists: bizevents does not create topics (their partitions
// and replication are the cluster owner's), and a dead-letter topic that
// does not exist would hold back every bad message.
func checkTopics(ctx context.Context, s kafkaconf.Settings, timeout time.Duration, topics ...string) error {
	cfg, err := kafkaconf.Sarama(s, timeout)
	if err != nil {
		return &Error{Code: errcode.InvalidArgument, Message: err.Error()}
	}
	cfg.Metadata.AllowAutoTopicCreation = false
	done := make(chan error, 1)
	go func() {
		client, err := sarama.NewClient(s.Brokers, cfg)
		if err != nil {
			done <- unavailable("connect to the brokers %s: %v", strings.Join(s.Brokers, ","), err)
			return
		}
		defer func() { _ = client.Close() }()
		for _, topic := range topics {
			_, err := client.Partitions(topic)
			switch {
			case errors.Is(err, sarama.ErrUnknownTopicOrPartition):
				done <- &Error{Code: errcode.NotFound, Message: fmt.Sprintf("topic %s does not exist on the brokers: create it (bizevents leaves partitions and replication to the cluster's owner)", topic)}
				return
			case err != nil:
				done <- unavailable("topic %s: %v", topic, err)
				return
			}
		}
		done <- nil
	}()
	wait, cancel := context.WithTimeout(ctx, 2*timeout)
	defer cancel()
	select {
	case err := <-done:
		return err
	case <-wait.Done():
		return unavailable("connect to the brokers %s: no answer within %s", strings.Join(s.Brokers, ","), 2*timeout)
	}
}

func (t *kafkaTransport) subscriber() message.Subscriber { return t.sub }
func (t *kafkaTransport) topic() string                  { return t.in.Topic }

func (t *kafkaTransport) publishDeadLetter(dl *message.Message) error {
	return t.pub.Publish(t.in.DeadLetterDestination(), dl)
}

func (t *kafkaTransport) close() error {
	var err error
	if t.sub != nil {
		err = t.sub.Close()
	}
	if t.pub != nil {
		err = errors.Join(err, t.pub.Close())
	}
	return err
}

// kafkaUnmarshaler makes a record a watermill message: the value as the
// payload; the UUID, which is the idempotency key, the
// _watermill_message_uuid header (what watermill publishers and bizevents
// kafka endpoints write), else the key when keyIsID; every other header
// as metadata (several of one name joined by ", "), and the partition and
// offset as [HeaderKafkaPartition] and [HeaderKafkaOffset]. The key is kept
// too, so that a dead letter has the record's key.
//
// It never fails: watermill-kafka stops consuming the partition on an
// unmarshal error, which would hold every later record back.
type kafkaUnmarshaler struct{ keyIsID bool }

var _ wkafka.Unmarshaler = kafkaUnmarshaler{}

func (u kafkaUnmarshaler) Unmarshal(r *sarama.ConsumerMessage) (*message.Message, error) {
	md := make(message.Metadata, len(r.Headers)+3)
	id := ""
	for _, h := range r.Headers {
		if h == nil {
			continue
		}
		k, v := string(h.Key), string(h.Value)
		switch {
		case k == wkafka.UUIDHeaderKey:
			id = v
		case k == kafkaconf.KeyMetadata:
			// Not a header a publisher may set: it stands for the key.
		case md[k] != "":
			md[k] += ", " + v
		default:
			md[k] = v
		}
	}
	if id == "" && u.keyIsID {
		id = string(r.Key)
	}
	if r.Key != nil {
		md[kafkaconf.KeyMetadata] = string(r.Key)
	}
	md[HeaderKafkaPartition] = strconv.FormatInt(int64(r.Partition), 10)
	md[HeaderKafkaOffset] = strconv.FormatInt(r.Offset, 10)
	msg := message.NewMessage(id, r.Value)
	msg.Metadata = md
	return msg, nil
}

// validateKafka checks a kafka input's brokers, topics and group.
func validateKafka(in Input, bad func(field, format string, args ...any)) {
	if in.URL != "" {
		bad("url", "a kafka input names its brokers in brokers, not a url")
	}
	for _, f := range [][2]string{{"queue", in.Queue}, {"subject", in.Subject}, {"stream", in.Stream}} {
		if f[1] != "" {
			bad(f[0], "is for a queue or stream input; a kafka input reads topic")
		}
	}
	kafkaconf.Check(kafkaconf.Settings{Brokers: in.Brokers, SASL: in.SASL, TLS: in.TLS}, bad)
	topicOK := false
	switch {
	case in.Topic == "":
		bad("topic", "is required: the Kafka topic to consume")
	case kafkaconf.TopicProblem(in.Topic) != "":
		bad("topic", "%s", kafkaconf.TopicProblem(in.Topic))
	default:
		topicOK = true
	}
	if dl := in.DeadLetter; dl != "" {
		if p := kafkaconf.TopicProblem(dl); p != "" {
			bad("deadLetter", "%s", p)
		}
	} else if topicOK && len(in.DeadLetterDestination()) > kafkaconf.MaxTopic {
		bad("deadLetter", "is required: %s and %s make a topic name longer than %d characters", in.Topic, DeadLetterSuffix, kafkaconf.MaxTopic)
	}
	if topicOK && in.DeadLetterDestination() == in.Topic {
		bad("deadLetter", "must not be the topic the input consumes: bad messages would come back")
	}
	if g := in.ConsumerGroup; g != "" && (len(g) > 255 || strings.ContainsFunc(g, func(r rune) bool { return r < ' ' || r == 0x7f })) {
		bad("consumerGroup", "must be at most 255 bytes, without control characters")
	}
}

// kafkaOnly reports the kafka fields set on an input of another kind.
func kafkaOnly(in Input, bad func(field, format string, args ...any)) {
	for _, f := range []struct {
		field string
		set   bool
	}{
		{"brokers", len(in.Brokers) > 0}, {"topic", in.Topic != ""}, {"consumerGroup", in.ConsumerGroup != ""},
		{"keyIsMessageId", in.KeyIsMessageID}, {"sasl", in.SASL != (KafkaSASL{})}, {"tls", in.TLS != (KafkaTLS{})},
	} {
		if f.set {
			bad(f.field, "is for a kafka input, not a %s", in.Kind)
		}
	}
}
