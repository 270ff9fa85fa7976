package endpoints_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/nats-io/nats.go"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/internal/benchload"
	"github.com/bizevents/bizevents/internal/testbroker"
)

// brokerBody is the FormatContext body of delivery "bench", as Deliver
// publishes it: what the baselines publish.
func brokerBody(tb testing.TB) []byte {
	tb.Helper()
	c := *sampleContext(tb)
	c.OperationID = "bench"
	body, err := deliveredBody(&c)
	require.NoError(tb, err)
	return body
}

// BenchmarkQueue compares Queue.Deliver (FormatContext, one signing
// secret, a persistent message with properties and headers, confirmed)
// with amqp091-go publishing the same body, persistent, on a channel in
// confirm mode per sender and waiting for each confirm, into the same
// durable queue, from benchSenders goroutines: the ratio is what
// encoding, signing, headers, the mandatory flag and the channel pool
// cost.
func BenchmarkQueue(b *testing.B) {
	url := testbroker.AMQPURL(b)
	body := brokerBody(b)
	c := sampleContext(b)
	name := fmt.Sprintf("senders=%d", benchSenders)
	b.Run(name+"/baseline", func(b *testing.B) {
		queue := testbroker.Queue(b)
		conn, err := amqp.Dial(url)
		require.NoError(b, err)
		defer conn.Close()
		setup, err := conn.Channel()
		require.NoError(b, err)
		_, err = setup.QueueDeclare(queue, true, false, false, false, nil)
		require.NoError(b, err)
		channels := make(chan *amqp.Channel, benchSenders)
		for range benchSenders {
			ch, err := conn.Channel()
			require.NoError(b, err)
			require.NoError(b, ch.Confirm(false))
			channels <- ch
		}
		benchload.Report(b, benchSenders, func() error {
			ch := <-channels
			defer func() { channels <- ch }()
			dc, err := ch.PublishWithDeferredConfirmWithContext(context.Background(), "", queue, false, false,
				amqp.Publishing{ContentType: endpoints.ContentTypeJSON, DeliveryMode: amqp.Persistent, MessageId: "bench", Body: body})
			if err != nil {
				return err
			}
			if !dc.Wait() {
				return fmt.Errorf("nacked")
			}
			return nil
		})
	})
	b.Run(name+"/deliver", func(b *testing.B) {
		q := newQueue(b, endpoints.QueueConfig{Channels: benchSenders})
		e := queueEndpoint(url, testbroker.Queue(b))
		e.Secrets = []string{secretA}
		benchload.Report(b, benchSenders, func() error {
			return q.Deliver(context.Background(), e, endpoints.Delivery{ID: "bench", Attempt: 1, Context: c}).Err
		})
	})
}

// BenchmarkStream compares Stream.Deliver (FormatContext, one signing
// secret, headers, Nats-Msg-Id) with nats.go's JetStream publish of the
// same body to the same kind of stream (file storage, one subject), each
// waiting for the stream's ack, from benchSenders goroutines on one
// connection: the ratio is what encoding, signing, headers, the
// duplicate check and watermill cost. Every message has its own id, so
// that none is dropped as a duplicate.
func BenchmarkStream(b *testing.B) {
	url := testbroker.NATSURL(b)
	body := brokerBody(b)
	c := sampleContext(b)
	name := fmt.Sprintf("senders=%d", benchSenders)
	b.Run(name+"/baseline", func(b *testing.B) {
		stream := testbroker.Stream(b)
		nc, err := nats.Connect(url)
		require.NoError(b, err)
		defer nc.Close()
		js, err := nc.JetStream()
		require.NoError(b, err)
		_, err = js.AddStream(&nats.StreamConfig{Name: stream, Subjects: []string{stream + ".events"}, Storage: nats.FileStorage})
		require.NoError(b, err)
		subject := stream + ".events"
		benchload.Report(b, benchSenders, func() error {
			_, err := js.PublishMsg(&nats.Msg{Subject: subject, Data: body})
			return err
		})
	})
	b.Run(name+"/deliver", func(b *testing.B) {
		s := newStream(b, endpoints.StreamConfig{})
		e := streamEndpoint(url, testbroker.Stream(b))
		e.Secrets = []string{secretA}
		// The body of delivery "bench" whatever the delivery's id.
		same := *c
		same.OperationID = "bench"
		var n atomic.Int64
		benchload.Report(b, benchSenders, func() error {
			id := fmt.Sprint("bench-", n.Add(1))
			return s.Deliver(context.Background(), e, endpoints.Delivery{ID: id, Attempt: 1, Context: &same}).Err
		})
	})
}

// TestBrokerBenchmarkFixtures checks the broker benchmarks compare like
// with like: the baselines' body is the one Deliver publishes.
func TestBrokerBenchmarkFixtures(t *testing.T) {
	t.Parallel()
	body := brokerBody(t)
	c := sampleContext(t)
	t.Run("queue", func(t *testing.T) {
		t.Parallel()
		url := testbroker.AMQPURL(t)
		queue := testbroker.Queue(t)
		e := queueEndpoint(url, queue)
		e.Secrets = []string{secretA}
		require.NoError(t, newQueue(t, endpoints.QueueConfig{}).Deliver(context.Background(), e, endpoints.Delivery{ID: "bench", Context: c}).Err)
		require.Equal(t, string(body), string(consume(t, url, queue, 1)[0].Body))
	})
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		url := testbroker.NATSURL(t)
		stream := testbroker.Stream(t)
		e := streamEndpoint(url, stream)
		require.NoError(t, newStream(t, endpoints.StreamConfig{}).Deliver(context.Background(), e, endpoints.Delivery{ID: "bench", Context: c}).Err)
		require.Equal(t, string(body), string(fetch(t, url, stream, 1)[0].Data()))
	})
}
