package inputs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	wmnats "github.com/ThreeDotsLabs/watermill-nats/v2/pkg/nats"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/nats-io/nats.go"

	"github.com/bizevents/bizevents/engine/errcode"
)

// DeadLetterStreamSuffix is appended to the input's stream name to name the
// stream created for its dead-letter subject when no stream holds it.
const DeadLetterStreamSuffix = "-deadletter"

// nakDelay is how long JetStream keeps a nacked message before it delivers
// it again: long enough for a stopping engine to unsubscribe, so that the
// message goes to the next one rather than back to it.
const nakDelay = time.Second

// natsTransport is a stream input: a durable JetStream consumer (created
// here, so that unsubscribing keeps it) read with manual acks, and the
// dead-letter subject published to through JetStream. The subscriber and
// the publisher have a connection each: closing the subscriber drains its
// own.
type natsTransport struct {
	in     Input
	stream string
	subNC  *nats.Conn
	pubNC  *nats.Conn
	sub    *wmnats.Subscriber
	pub    *wmnats.Publisher
}

var _ transport = (*natsTransport)(nil)

func openNATS(ctx context.Context, in Input, cfg Config, logger watermill.LoggerAdapter) (_ *natsTransport, err error) {
	timeout := cfg.ConnectTimeout
	if d, ok := ctx.Deadline(); ok && time.Until(d) < timeout {
		timeout = max(time.Until(d), time.Millisecond)
	}
	connect := func(role string) (*nats.Conn, error) {
		nc, err := nats.Connect(in.URL, nats.Name("bizevents input "+in.Name+" "+role), nats.Timeout(timeout),
			nats.MaxReconnects(-1), nats.RetryOnFailedConnect(false))
		if err != nil {
			return nil, unavailable("connect to the broker at %s: %v", hostOf(in.URL), err)
		}
		return nc, nil
	}
	t := &natsTransport{in: in}
	defer func() {
		if err != nil {
			_ = t.close()
		}
	}()
	if t.subNC, err = connect("consumer"); err != nil {
		return nil, err
	}
	if t.pubNC, err = connect("dead letters"); err != nil {
		return nil, err
	}
	js, err := t.subNC.JetStream(nats.MaxWait(timeout))
	if err != nil {
		return nil, unavailable("JetStream at %s: %v", hostOf(in.URL), err)
	}
	stream := in.Stream
	if stream == "" {
		stream = DurablePrefix + in.Name
	}
	if t.stream, err = ensureStream(js, in.Stream, stream, in.Subject); err != nil {
		return nil, err
	}
	if _, err = ensureStream(js, "", t.stream+DeadLetterStreamSuffix, in.DeadLetterDestination()); err != nil {
		return nil, err
	}
	if err = ensureConsumer(js, t.stream, in, cfg); err != nil {
		return nil, err
	}
	t.sub, err = wmnats.NewSubscriberWithNatsConn(t.subNC, wmnats.SubscriberSubscriptionConfig{
		Unmarshaler:      natsMarshaler{},
		SubscribersCount: 1,
		AckWaitTimeout:   cfg.AckWait,
		CloseTimeout:     cfg.CloseTimeout,
		SubscribeTimeout: timeout,
		QueueGroupPrefix: in.Durable(),
		NakDelay:         wmnats.NewStaticDelay(nakDelay),
		JetStream: wmnats.JetStreamConfig{
			ConnectOptions:   []nats.JSOpt{nats.MaxWait(timeout)},
			SubscribeOptions: []nats.SubOpt{nats.Bind(t.stream, in.Durable()), nats.ManualAck()},
			DurablePrefix:    in.Durable(),
		},
	}, logger)
	if err != nil {
		return nil, err
	}
	t.pub, err = wmnats.NewPublisherWithNatsConn(t.pubNC, wmnats.PublisherPublishConfig{
		Marshaler:         natsMarshaler{},
		SubjectCalculator: wmnats.DefaultSubjectCalculator,
		JetStream:         wmnats.JetStreamConfig{ConnectOptions: []nats.JSOpt{nats.MaxWait(timeout)}},
	}, logger)
	if err != nil {
		return nil, err
	}
	return t, nil
}

// ensureStream returns the stream that holds subject: the named one,
// created when missing (named non-empty); else the one the server finds
// for the subject, or a new one named fallback.
func ensureStream(js nats.JetStreamContext, named, fallback, subject string) (string, error) {
	if named != "" {
		info, err := js.StreamInfo(named)
		switch {
		case err == nil:
			for _, s := range info.Config.Subjects {
				if subjectMatches(s, subject) {
					return named, nil
				}
			}
			return "", &Error{Code: errcode.InvalidArgument, Message: fmt.Sprintf("stream %s does not hold subject %s (its subjects: %s)",
				named, subject, strings.Join(info.Config.Subjects, ", "))}
		case !errors.Is(err, nats.ErrStreamNotFound):
			return "", unavailable("stream %s: %v", named, err)
		}
		return named, addStream(js, named, subject)
	}
	name, err := js.StreamNameBySubject(subject)
	switch {
	case err == nil:
		return name, nil
	case !errors.Is(err, nats.ErrNoMatchingStream) && !errors.Is(err, nats.ErrStreamNotFound):
		return "", unavailable("find the stream of subject %s: %v", subject, err)
	}
	return fallback, addStream(js, fallback, subject)
}

func addStream(js nats.JetStreamContext, name, subject string) error {
	_, err := js.AddStream(&nats.StreamConfig{
		Name:        name,
		Description: "made by bizevents for subject " + subject,
		Subjects:    []string{subject},
		Storage:     nats.FileStorage,
		Retention:   nats.LimitsPolicy,
	})
	if err != nil {
		return unavailable("create stream %s for subject %s: %v", name, subject, err)
	}
	return nil
}

// ensureConsumer creates the input's durable push consumer, or updates the
// settings of the one that exists: explicit acks, one delivery group
// (engines sharing the input share its messages), all messages from the
// stream's start the first time.
func ensureConsumer(js nats.JetStreamContext, stream string, in Input, cfg Config) error {
	want := &nats.ConsumerConfig{
		Durable:       in.Durable(),
		Description:   "bizevents input " + in.Name,
		DeliverGroup:  in.Durable(),
		FilterSubject: in.Subject,
		AckPolicy:     nats.AckExplicitPolicy,
		AckWait:       cfg.AckWait,
		MaxAckPending: cfg.Prefetch,
		DeliverPolicy: nats.DeliverAllPolicy,
	}
	info, err := js.ConsumerInfo(stream, in.Durable())
	switch {
	case errors.Is(err, nats.ErrConsumerNotFound):
		want.DeliverSubject = nats.NewInbox()
		if _, err := js.AddConsumer(stream, want); err != nil {
			return unavailable("create consumer %s on stream %s: %v", in.Durable(), stream, err)
		}
		return nil
	case err != nil:
		return unavailable("consumer %s on stream %s: %v", in.Durable(), stream, err)
	}
	have := info.Config
	if have.DeliverSubject == "" {
		return &Error{Code: errcode.InvalidArgument, Message: fmt.Sprintf("consumer %s on stream %s is a pull consumer; delete it, bizevents makes a push consumer", in.Durable(), stream)}
	}
	if have.FilterSubject == want.FilterSubject && have.AckWait == want.AckWait && have.MaxAckPending == want.MaxAckPending &&
		have.DeliverGroup == want.DeliverGroup && have.AckPolicy == want.AckPolicy {
		return nil
	}
	want.DeliverSubject = have.DeliverSubject
	want.DeliverPolicy = have.DeliverPolicy
	want.OptStartSeq, want.OptStartTime = have.OptStartSeq, have.OptStartTime
	if _, err := js.UpdateConsumer(stream, want); err != nil {
		return unavailable("update consumer %s on stream %s: %v", in.Durable(), stream, err)
	}
	return nil
}

func (t *natsTransport) subscriber() message.Subscriber { return t.sub }
func (t *natsTransport) topic() string                  { return t.in.Subject }

func (t *natsTransport) publishDeadLetter(dl *message.Message) error {
	return t.pub.Publish(t.in.DeadLetterDestination(), dl)
}

func (t *natsTransport) close() error {
	var err error
	if t.sub != nil {
		err = t.sub.Close()
	}
	if t.pub != nil {
		err = errors.Join(err, t.pub.Close())
	}
	for _, nc := range []*nats.Conn{t.subNC, t.pubNC} {
		if nc != nil && !nc.IsClosed() {
			nc.Close()
		}
	}
	return err
}

// natsMarshaler maps NATS messages to watermill messages and back: the
// UUID is the Nats-Msg-Id header (else watermill's), every other header
// becomes metadata (several values joined by ", "), JetStream's own
// headers excepted.
type natsMarshaler struct{}

// reservedNATSHeaders are JetStream's headers, which a dead letter must not
// carry over: they would make the publish fail or be deduplicated.
var reservedNATSHeaders = map[string]bool{
	wmnats.WatermillUUIDHdr:                       true,
	nats.MsgIdHdr:                                 true,
	nats.ExpectedLastMsgIdHdr:                     true,
	nats.ExpectedStreamHdr:                        true,
	nats.ExpectedLastSeqHdr:                       true,
	nats.ExpectedLastSubjSeqHdr:                   true,
	"Nats-Expected-Last-Subject-Sequence-Subject": true,
	"Nats-TTL":                                    true,
	"Nats-Rollup":                                 true,
}

func (natsMarshaler) Marshal(topic string, msg *message.Message) (*nats.Msg, error) {
	hdr := nats.Header{}
	for k, v := range msg.Metadata {
		if !reservedNATSHeaders[k] {
			hdr[k] = []string{v}
		}
	}
	return &nats.Msg{Subject: topic, Data: msg.Payload, Header: hdr}, nil
}

func (natsMarshaler) Unmarshal(m *nats.Msg) (*message.Message, error) {
	id := m.Header.Get(nats.MsgIdHdr)
	if id == "" {
		id = m.Header.Get(wmnats.WatermillUUIDHdr)
	}
	msg := message.NewMessage(id, m.Data)
	for k, v := range m.Header {
		if !reservedNATSHeaders[k] && len(v) > 0 {
			msg.Metadata[k] = strings.Join(v, ", ")
		}
	}
	return msg, nil
}
