package solution_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/inputs"
	"github.com/bizevents/bizevents/engine/solution"
)

func TestKafkaDefs(t *testing.T) {
	t.Parallel()
	env := map[string]string{
		"KAFKA_BROKERS":  "kafka-1:9092, kafka-2:9092",
		"KAFKA_PASSWORD": "s3cret",
		"KAFKA_TOPIC":    "contoso.invoices",
	}
	getenv := func(name string) string { return env[name] }

	e, err := solution.EndpointDef{Name: "analytics", Kind: "kafka", Brokers: []string{"env:KAFKA_BROKERS", "kafka-3:9093"}, Topic: "env:KAFKA_TOPIC",
		SASL:    &solution.KafkaSASLDef{Mechanism: "SCRAM-SHA-256", User: "bizevents", Password: "env:KAFKA_PASSWORD"},
		TLS:     &solution.KafkaTLSDef{ServerName: "kafka.example"},
		Timeout: "5s"}.Endpoint(getenv)
	require.NoError(t, err)
	require.Equal(t, endpoints.Endpoint{Name: "analytics", Kind: endpoints.KindKafka,
		Brokers: []string{"kafka-1:9092", "kafka-2:9092", "kafka-3:9093"}, Topic: "contoso.invoices",
		SASL:   endpoints.KafkaSASL{Mechanism: endpoints.KafkaSASLSCRAMSHA256, User: "bizevents", Password: "s3cret"},
		TLS:    endpoints.KafkaTLS{Enabled: true, ServerName: "kafka.example"},
		Format: endpoints.FormatContext, Auth: endpoints.Auth{Type: endpoints.AuthNone}, Timeout: 5 * time.Second}, e)
	require.NoError(t, e.Validate())

	_, err = solution.EndpointDef{Name: "analytics", Kind: "kafka", Brokers: []string{"env:NOPE"}, Topic: "t"}.Endpoint(getenv)
	require.ErrorContains(t, err, "environment variable NOPE is not set")

	in, err := solution.InputDef{Name: "erp", Kind: "kafka", Brokers: []string{"env:KAFKA_BROKERS"}, Topic: "erp.invoices",
		ConsumerGroup: "erp-readers", KeyIsMessageID: true, DeadLetter: "erp.bad", Message: "erp_InvoicePosted",
		SASL: &solution.KafkaSASLDef{Mechanism: "PLAIN", User: "u", Password: "env:KAFKA_PASSWORD"}}.Input(getenv)
	require.NoError(t, err)
	require.Equal(t, inputs.Input{Name: "erp", Kind: inputs.KindKafka, Brokers: []string{"kafka-1:9092", "kafka-2:9092"}, Topic: "erp.invoices",
		ConsumerGroup: "erp-readers", KeyIsMessageID: true, DeadLetter: "erp.bad", Message: "erp_InvoicePosted",
		SASL: inputs.KafkaSASL{Mechanism: "PLAIN", User: "u", Password: "s3cret"}}, in)
	require.NoError(t, in.Validate())
}
