package solution_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/solution"
)

func TestBrokerEndpointDefs(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"RABBITMQ_URL":   "amqp://bizevents:pw@rabbit.example:5672/erp",
		"ORDERS_SUBJECT": "bizevents.erp.orders",
	}
	getenv := func(name string) string { return env[name] }

	q, err := solution.EndpointDef{Name: "orders_queue", Kind: "queue", URL: "env:RABBITMQ_URL", Queue: "erp.orders", Exchange: "bizevents",
		Format: "cloudevents-binary", Timeout: "10s"}.Endpoint(getenv)
	require.NoError(t, err)
	require.Equal(t, endpoints.Endpoint{Name: "orders_queue", Kind: endpoints.KindQueue, URL: env["RABBITMQ_URL"],
		Queue: "erp.orders", Exchange: "bizevents", Format: endpoints.FormatCloudEventsBinary, Auth: endpoints.Auth{Type: endpoints.AuthNone},
		Timeout: 10 * time.Second}, q)
	require.NoError(t, q.Validate())

	s, err := solution.EndpointDef{Name: "orders_stream", Kind: "stream", URL: "nats://nats.example:4222", Subject: "env:ORDERS_SUBJECT",
		Stream: "ERP_ORDERS"}.Endpoint(getenv)
	require.NoError(t, err)
	require.Equal(t, endpoints.KindStream, s.Kind)
	require.Equal(t, "bizevents.erp.orders", s.Subject, "env: values are read when a delivery is made")
	require.Equal(t, "ERP_ORDERS", s.Stream)
	require.Equal(t, endpoints.FormatContext, s.Format)
	require.NoError(t, s.Validate())

	_, err = solution.EndpointDef{Name: "orders_stream", Kind: "stream", URL: "env:NATS_URL", Subject: "env:ORDERS"}.Endpoint(func(string) string { return "" })
	require.ErrorContains(t, err, "environment variable NATS_URL, ORDERS is not set")
}
