package inputs_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/inputs"
)

func TestValidate(t *testing.T) {
	t.Parallel()
	queue := inputs.Input{Name: "erp", Kind: inputs.KindQueue, URL: "amqp://guest:guest@rabbit:5672/", Queue: "invoices", Message: "erp_InvoicePosted"}
	stream := inputs.Input{Name: "erp", Kind: inputs.KindStream, URL: "nats://nats:4222", Subject: "erp.invoices", Message: "erp_InvoicePosted"}
	with := func(in inputs.Input, f func(*inputs.Input)) inputs.Input { f(&in); return in }
	for _, tc := range []struct {
		name string
		in   inputs.Input
		want []string // each a problem; none for a valid input
	}{
		{"queue", queue, nil},
		{"stream", stream, nil},
		{"stream with wildcards and a dead letter", with(stream, func(in *inputs.Input) { in.Subject, in.DeadLetter = "erp.*.invoices", "erp.deadletter" }), nil},
		{"amqps and tls", with(queue, func(in *inputs.Input) { in.URL = "amqps://rabbit/" }), nil},
		{"no name", with(queue, func(in *inputs.Input) { in.Name = "" }), []string{`input "": name: is required`}},
		{"bad name", with(queue, func(in *inputs.Input) { in.Name = "ERP orders" }), []string{`input "ERP orders": name: must be lower case`}},
		{"no kind", with(queue, func(in *inputs.Input) { in.Kind = "" }), []string{"input erp: kind: is required: queue, stream or kafka"}},
		{"unknown kind", with(queue, func(in *inputs.Input) { in.Kind = "pulsar" }), []string{`kind: "pulsar" is not supported: queue, stream or kafka`}},
		{"no message", with(queue, func(in *inputs.Input) { in.Message = "" }), []string{"message: is required"}},
		{"queue on nats", with(queue, func(in *inputs.Input) { in.URL = "nats://nats:4222" }), []string{"url: must start with amqp:// or amqps://"}},
		{"stream on amqp", with(stream, func(in *inputs.Input) { in.URL = "amqp://rabbit/" }), []string{"url: must start with nats:// or tls://"}},
		{"no host", with(queue, func(in *inputs.Input) { in.URL = "amqp:///" }), []string{"url: has no host"}},
		{"no url", with(queue, func(in *inputs.Input) { in.URL = "" }), []string{"url: is required"}},
		{"no queue", with(queue, func(in *inputs.Input) { in.Queue = "" }), []string{"queue: is required"}},
		{"reserved queue", with(queue, func(in *inputs.Input) { in.Queue = "amq.gen-1" }), []string{"queue: \"amq.gen-1\": names starting with amq. are reserved"}},
		{"subject on a queue", with(queue, func(in *inputs.Input) { in.Subject, in.Stream = "x", "S" }), []string{"subject: is for a stream input", "stream: is for a stream input"}},
		{"dead letter is the queue", with(queue, func(in *inputs.Input) { in.DeadLetter = "invoices" }), []string{"deadLetter: must not be the queue"}},
		{"queue on a stream", with(stream, func(in *inputs.Input) { in.Queue = "q" }), []string{"queue: is for a queue input"}},
		{"no subject", with(stream, func(in *inputs.Input) { in.Subject = "" }), []string{"subject: is required"}},
		{"bad subject", with(stream, func(in *inputs.Input) { in.Subject = "erp..x" }), []string{`subject: "erp..x" is not a NATS subject`}},
		{"> not last", with(stream, func(in *inputs.Input) { in.Subject = "erp.>.x" }), []string{"is not a NATS subject"}},
		{"bad stream", with(stream, func(in *inputs.Input) { in.Stream = "erp.stream" }), []string{`stream: "erp.stream" is not a JetStream stream name`}},
		{"wildcards without a dead letter", with(stream, func(in *inputs.Input) { in.Subject = "erp.>" }), []string{"deadLetter: is required when the subject has wildcards"}},
		{"wildcard dead letter", with(stream, func(in *inputs.Input) { in.DeadLetter = "erp.*" }), []string{`deadLetter: "erp.*" is not a NATS subject without wildcards`}},
		{"dead letter consumed", with(stream, func(in *inputs.Input) { in.Subject, in.DeadLetter = "erp.>", "erp.dead" }), []string{"deadLetter: erp.dead is a subject the input consumes"}},
		{"everything", inputs.Input{Kind: inputs.KindStream}, []string{"name: is required", "message: is required", "url: is required", "subject: is required"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.in.Validate()
			if tc.want == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			problems := err.(interface{ Unwrap() []error }).Unwrap()
			require.Len(t, problems, len(tc.want), "%v", err)
			for i, w := range tc.want {
				require.Contains(t, problems[i].Error(), w)
			}
			var fe *inputs.FieldError
			require.True(t, errors.As(err, &fe))
			require.Equal(t, errcode.InvalidArgument, errcode.Of(err))
			require.NotContains(t, err.Error(), "guest:guest", "no password in problems")
		})
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	q := inputs.Input{Name: "erp", Kind: inputs.KindQueue, Queue: "invoices"}
	require.Equal(t, "invoices.deadletter", q.DeadLetterDestination())
	require.Equal(t, "invoices", q.Source())
	s := inputs.Input{Name: "erp", Kind: inputs.KindStream, Subject: "erp.invoices", DeadLetter: "erp.bad"}
	require.Equal(t, "erp.bad", s.DeadLetterDestination())
	require.Equal(t, "bizevents-erp", s.Durable())

	c := inputs.Config{}.WithDefaults()
	require.Equal(t, inputs.DefaultRetries, c.Retries)
	require.Equal(t, inputs.DefaultPrefetch, c.Prefetch)
	require.NotNil(t, c.Logger)
	require.Zero(t, inputs.Config{Retries: -1}.WithDefaults().Retries)
}
