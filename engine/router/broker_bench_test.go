package router_test

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/router"
	"github.com/bizevents/bizevents/internal/testbroker"
)

// queueDestination is a durable RabbitMQ queue of the run's own, declared
// as a queue endpoint declares it, with a consumer (no acks) counting its
// messages. Its bare sender publishes the body persistent, on a channel in
// confirm mode per sender, waiting for each confirm, as endpoints'
// BenchmarkQueue's baseline does.
func queueDestination(b *testing.B, rc *receipts) destination {
	url := testbroker.AMQPURL(b)
	queue := testbroker.Queue(b)
	conn, err := amqp.Dial(url)
	require.NoError(b, err)
	ch, err := conn.Channel()
	require.NoError(b, err)
	_, err = ch.QueueDeclare(queue, true, false, false, false, nil)
	require.NoError(b, err)
	msgs, err := ch.Consume(queue, "", true, false, false, false, nil)
	require.NoError(b, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m := range msgs {
			rc.got(m.Body)
		}
	}()
	b.Cleanup(func() { _ = conn.Close(); <-done })
	q := endpoints.NewQueue(endpoints.QueueConfig{})
	b.Cleanup(func() { _ = q.Close() })
	return destination{
		ep:  endpoints.Endpoint{Name: "bench", Kind: endpoints.KindQueue, URL: url, Queue: queue, Secrets: []string{endpoints.NewSecret()}},
		cfg: router.EndpointConfig{Queue: q},
		bare: func(b *testing.B, body []byte) func() error {
			pc, err := amqp.Dial(url)
			require.NoError(b, err)
			b.Cleanup(func() { _ = pc.Close() })
			channels := make(chan *amqp.Channel, drainSenders)
			for range drainSenders {
				ch, err := pc.Channel()
				require.NoError(b, err)
				require.NoError(b, ch.Confirm(false))
				channels <- ch
			}
			return func() error {
				ch := <-channels
				defer func() { channels <- ch }()
				dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", queue, false, false,
					amqp.Publishing{ContentType: endpoints.ContentTypeJSON, DeliveryMode: amqp.Persistent, MessageId: "bench", Body: body})
				if err != nil {
					return err
				}
				if !dc.Wait() {
					return errors.New("nacked")
				}
				return nil
			}
		},
	}
}

// streamDestination is a JetStream stream of the run's own (file storage,
// one subject), created as a stream endpoint creates it, with an ordered
// consumer counting its messages. Its bare sender publishes the body to
// the subject and waits for the stream's ack, on one connection, as
// endpoints' BenchmarkStream's baseline does.
func streamDestination(b *testing.B, rc *receipts) destination {
	url := testbroker.NATSURL(b)
	stream := testbroker.Stream(b)
	subject := stream + ".events"
	nc, err := nats.Connect(url)
	require.NoError(b, err)
	b.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	require.NoError(b, err)
	ctx := context.Background()
	_, err = js.CreateStream(ctx, jetstream.StreamConfig{Name: stream, Subjects: []string{subject}, Storage: jetstream.FileStorage})
	require.NoError(b, err)
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	require.NoError(b, err)
	cc, err := cons.Consume(func(m jetstream.Msg) { rc.got(m.Data()) })
	require.NoError(b, err)
	b.Cleanup(cc.Stop)
	s := endpoints.NewStream(endpoints.StreamConfig{})
	b.Cleanup(func() { _ = s.Close() })
	return destination{
		ep: endpoints.Endpoint{Name: "bench", Kind: endpoints.KindStream, URL: url, Stream: stream, Subject: subject,
			Secrets: []string{endpoints.NewSecret()}},
		cfg: router.EndpointConfig{Stream: s},
		bare: func(b *testing.B, body []byte) func() error {
			pc, err := nats.Connect(url)
			require.NoError(b, err)
			b.Cleanup(pc.Close)
			pjs, err := pc.JetStream()
			require.NoError(b, err)
			return func() error {
				_, err := pjs.PublishMsg(&nats.Msg{Subject: subject, Data: body})
				return err
			}
		},
	}
}

// BenchmarkQueueDrain is events per second from the log to a RabbitMQ
// queue through the router's endpoint step (a job per event: enqueued,
// claimed, published persistent, signed and confirmed, recorded), counted
// at a consumer of the queue, next to a bare loop of drainSenders
// goroutines publishing the same body to the same broker with publisher
// confirms, on each backend; the figure is router/baseline. Its latency
// sub-benchmark is p50/p99 from commit to the consumer's receipt, events
// committed one at a time to the idle router.
func BenchmarkQueueDrain(b *testing.B) { benchEndpointDrain(b, queueDestination) }

// BenchmarkStreamDrain is BenchmarkQueueDrain for a NATS JetStream
// stream: published with headers and a Nats-Msg-Id, each waiting for the
// stream's ack, counted at an ordered consumer; the baseline publishes
// the same body, waiting for each ack.
func BenchmarkStreamDrain(b *testing.B) { benchEndpointDrain(b, streamDestination) }
