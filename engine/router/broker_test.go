package router_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	amqp "github.com/rabbitmq/amqp091-go"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/router"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/internal/testbroker"
)

// TestEndpointStepsDeliverToBrokers runs an endpoint step on a queue and
// one on a stream: a committed row reaches the real RabbitMQ and NATS
// JetStream as jobs that succeed, signed, with the delivery ids of the
// jobs.
func TestEndpointStepsDeliverToBrokers(t *testing.T) {
	t.Parallel()
	amqpURL, natsURL := testbroker.AMQPURL(t), testbroker.NATSURL(t)
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		secret := endpoints.NewSecret()
		queue, stream := testbroker.Queue(t), testbroker.Stream(t)
		eps := map[string]endpoints.Endpoint{
			"erp_queue": {Name: "erp_queue", Kind: endpoints.KindQueue, URL: amqpURL, Queue: queue,
				Secrets: []string{secret}, Timeout: 5 * time.Second},
			"erp_stream": {Name: "erp_stream", Kind: endpoints.KindStream, URL: natsURL, Subject: stream + ".accounts", Stream: stream,
				Format: endpoints.FormatCloudEventsStructured, Timeout: 5 * time.Second},
		}

		db := open(t, append(append([]storage.Migration{}, tables.Migrations...), jobs.Migrations...)...)
		e := pipeline.New(db, pipeline.Config{})
		d, err := pipeline.NewDefinitions([]tables.Table{account}, nil, []pipeline.Step{
			{Name: "to queue", Message: pipeline.Create, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Async, Endpoint: "erp_queue",
				PostImages: []pipeline.Image{{Name: "after", Columns: []string{"name"}}}},
			{Name: "to stream", Message: pipeline.Create, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Async, Endpoint: "erp_stream"},
		})
		require.NoError(t, err)
		e.SetDefinitions(d)
		q := endpoints.NewQueue(endpoints.QueueConfig{})
		defer q.Close()
		s := endpoints.NewStream(endpoints.StreamConfig{})
		defer s.Close()
		runner := router.EndpointRunner(router.EndpointConfig{Engine: e, Queue: q, Stream: s, Environment: "test",
			Endpoint: func(name string) (endpoints.Endpoint, bool) { ep, ok := eps[name]; return ep, ok }})
		r, err := router.New(db, jobs.NewStore(db, nil), map[string]router.Runner{router.KindEndpoint: runner},
			router.Config{PollInterval: 20 * time.Millisecond})
		require.NoError(t, err)
		require.NoError(t, r.Sync(router.StepSubscriptions(d, fastRetry)))
		require.NoError(t, r.Start(ctx))
		defer r.Stop(ctx)

		resp, err := e.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "account", Target: map[string]any{"name": "Fourth Coffee"}})
		require.NoError(t, err)
		store := r.Jobs()
		require.Eventually(t, func() bool {
			js, err := store.List(ctx, jobs.Filter{Status: []jobs.Status{jobs.Succeeded, jobs.Failed}})
			require.NoError(t, err)
			return len(js) == 2
		}, wait, 10*time.Millisecond)
		for _, sub := range []string{"step:to queue", "step:to stream"} {
			js, err := store.List(ctx, jobs.Filter{Subscriber: sub})
			require.NoError(t, err)
			require.Len(t, js, 1)
			require.Equal(t, jobs.Succeeded, js[0].Status, "%s: %s", sub, js[0].LastError)
			require.Equal(t, 1, js[0].Attempts)
		}

		// The queue's message: the execution context, persistent, signed.
		conn, err := amqp.Dial(amqpURL)
		require.NoError(t, err)
		defer conn.Close()
		ch, err := conn.Channel()
		require.NoError(t, err)
		m, ok, err := ch.Get(queue, true)
		require.NoError(t, err)
		require.True(t, ok, "a message on queue %s", queue)
		require.Equal(t, amqp.Persistent, m.DeliveryMode)
		require.Equal(t, router.DeliveryID("step:to queue", eventOf(t, store, "step:to queue")), m.MessageId)
		require.NoError(t, endpoints.Verify(secret, endpoints.HeaderFrom(m.Headers), m.Body, time.Now(), time.Minute))
		var ec endpoints.ExecutionContext
		require.NoError(t, json.Unmarshal(m.Body, &ec))
		require.Equal(t, "Create", ec.MessageName)
		require.Equal(t, resp.ID.String(), ec.PrimaryEntityID)
		require.Equal(t, "to queue", ec.StepName)

		// The stream's: a CloudEvent whose id is the delivery's.
		nc, err := nats.Connect(natsURL)
		require.NoError(t, err)
		defer nc.Close()
		js, err := jetstream.New(nc)
		require.NoError(t, err)
		cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
		require.NoError(t, err)
		msg, err := cons.Next(jetstream.FetchMaxWait(10 * time.Second))
		require.NoError(t, err)
		var ce endpoints.CloudEvent
		require.NoError(t, json.Unmarshal(msg.Data(), &ce))
		id := router.DeliveryID("step:to stream", eventOf(t, store, "step:to stream"))
		require.Equal(t, id, ce.ID)
		require.Equal(t, id, msg.Headers().Get(nats.MsgIdHdr))
		require.Equal(t, "bizevents.account.Create", ce.Type)
		require.Equal(t, resp.ID.String(), ce.Data.PrimaryEntityID)
	})
}

// eventOf is the event of a subscriber's one job.
func eventOf(t *testing.T, store *jobs.Store, subscriber string) uuid.UUID {
	t.Helper()
	js, err := store.List(context.Background(), jobs.Filter{Subscriber: subscriber})
	require.NoError(t, err)
	require.Len(t, js, 1)
	return js[0].EventID
}
