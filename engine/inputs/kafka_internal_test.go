package inputs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/IBM/sarama"
	wkafka "github.com/ThreeDotsLabs/watermill-kafka/v3/pkg/kafka"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/internal/kafkaconf"
)

func kafkaRecord(key string, value string, headers ...string) *sarama.ConsumerMessage {
	r := &sarama.ConsumerMessage{Topic: "erp.invoices", Partition: 3, Offset: 1207, Value: []byte(value)}
	if key != "" {
		r.Key = []byte(key)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		r.Headers = append(r.Headers, &sarama.RecordHeader{Key: []byte(headers[i]), Value: []byte(headers[i+1])})
	}
	return r
}

// TestKafkaRecordToRequest checks how a record becomes the invocation of
// the input's custom API: the idempotency key, the correlation id, the
// parameters.
func TestKafkaRecordToRequest(t *testing.T) {
	t.Parallel()
	user := uuid.MustParse("0c6f8d0e-0000-4000-8000-000000000001")
	corr := uuid.MustParse("0c6f8d0e-0000-4000-8000-0000000000c0")
	in := Input{Name: "erp", Kind: KindKafka, Message: "erp_InvoicePosted", Table: "invoice", User: user}
	keyed := in
	keyed.KeyIsMessageID = true
	for _, tc := range []struct {
		name    string
		in      Input
		record  *sarama.ConsumerMessage
		wantKey string
	}{
		{"watermill id", in, kafkaRecord("customer-7", `{"Amount": 1.50}`, wkafka.UUIDHeaderKey, "m-1", HeaderCorrelationID, corr.String()), "m-1"},
		{"the key is no id by default", in, kafkaRecord("customer-7", `{"Amount": 1.50}`, HeaderCorrelationID, corr.String()), ""},
		{"the key as the id", keyed, kafkaRecord("inv-2026-1", `{"Amount": 1.50}`, HeaderCorrelationID, corr.String()), "inv-2026-1"},
		{"the header before the key", keyed, kafkaRecord("inv-2026-1", `{"Amount": 1.50}`, wkafka.UUIDHeaderKey, "m-1", HeaderCorrelationID, corr.String()), "m-1"},
		{"a cloudevent without id", in, kafkaRecord("", `{"specversion":"1.0","id":"e-1","source":"/erp","type":"t","correlationid":"`+corr.String()+`","data":{"Amount":1.50}}`), "cloudevent:/erp e-1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg, err := kafkaUnmarshaler{keyIsID: tc.in.KeyIsMessageID}.Unmarshal(tc.record)
			require.NoError(t, err)
			req, err := request(tc.in, msg)
			require.NoError(t, err)
			require.Equal(t, tc.wantKey, req.IdempotencyKey)
			require.Equal(t, "erp_InvoicePosted", req.Message)
			require.Equal(t, "invoice", req.Table)
			require.Equal(t, user, req.Caller.UserID)
			require.Equal(t, corr, req.CorrelationID)
			require.Equal(t, map[string]any{"Amount": json.Number("1.50")}, req.Parameters)
		})
	}
}

func TestKafkaUnmarshalNeverFails(t *testing.T) {
	t.Parallel()
	r := kafkaRecord("\xff\x00", "not json \xff", "a", "1", "a", "2", kafkaconf.KeyMetadata, "spoofed", "\xfe", "\xfd")
	r.Headers = append(r.Headers, nil)
	msg, err := kafkaUnmarshaler{}.Unmarshal(r)
	require.NoError(t, err, "an unmarshal error would stop the partition")
	require.Equal(t, "", msg.UUID)
	require.Equal(t, "1, 2", msg.Metadata.Get("a"), "repeated headers joined")
	require.Equal(t, "\xff\x00", msg.Metadata.Get(kafkaconf.KeyMetadata), "the key, not a header that claims to be it")
	require.Equal(t, "3", msg.Metadata.Get(HeaderKafkaPartition))
	require.Equal(t, "1207", msg.Metadata.Get(HeaderKafkaOffset))
	_, err = request(Input{Name: "erp", Message: "m"}, msg)
	require.Equal(t, errcode.InvalidArgument, errcode.Of(err), "a bad body fails the run, not the consumer")
}

// TestKafkaDeadLetterRecord checks the dead letter of a record: its value,
// key and headers, and why, in the record the producer sends.
func TestKafkaDeadLetterRecord(t *testing.T) {
	t.Parallel()
	in := Input{Name: "erp", Kind: KindKafka, Topic: "erp.invoices", Message: "erp_InvoicePosted"}
	msg, err := kafkaUnmarshaler{}.Unmarshal(kafkaRecord("customer-7", `{"Amount": "x"}`, wkafka.UUIDHeaderKey, "m-1", "source", "erp"))
	require.NoError(t, err)
	cause := &Error{Code: errcode.InvalidValue, Message: strings.Repeat("é", MaxErrorHeader)}
	require.False(t, Retryable(cause), "dead-lettered at once")
	pm, err := kafkaconf.Marshaler{}.Marshal(in.DeadLetterDestination(), deadLetter(in, msg, cause))
	require.NoError(t, err)
	require.Equal(t, "erp.invoices.deadletter", pm.Topic)
	key, _ := pm.Key.Encode()
	require.Equal(t, "customer-7", string(key), "the record's key, so the dead letter lands with its kind")
	value, _ := pm.Value.Encode()
	require.Equal(t, `{"Amount": "x"}`, string(value))
	h := map[string]string{}
	for _, rh := range pm.Headers {
		_, dup := h[string(rh.Key)]
		require.False(t, dup, "header %s twice", rh.Key)
		h[string(rh.Key)] = string(rh.Value)
	}
	require.Equal(t, "m-1", h[wkafka.UUIDHeaderKey], "the original id")
	require.Equal(t, "m-1", h[HeaderMessageID])
	require.Equal(t, "erp", h["source"], "the original headers")
	require.Equal(t, string(errcode.InvalidValue), h[HeaderErrorCode])
	require.LessOrEqual(t, len(h[HeaderError]), MaxErrorHeader)
	require.True(t, strings.HasSuffix(h[HeaderError], "…"))
	require.Equal(t, "erp", h[HeaderInput])
	require.Equal(t, "3", h[HeaderKafkaPartition])
	require.Equal(t, "1207", h[HeaderKafkaOffset])
	require.NotContains(t, h, kafkaconf.KeyMetadata)

	for _, transient := range []errcode.Code{errcode.Unavailable, errcode.Internal, errcode.RateLimited, errcode.VersionConflict} {
		require.True(t, Retryable(fmt.Errorf("run: %w", &Error{Code: transient, Message: "x"})), "%s is tried again before the dead letter", transient)
	}
}

func TestKafkaInputValidate(t *testing.T) {
	t.Parallel()
	ok := Input{Name: "erp", Kind: KindKafka, Brokers: []string{"kafka-1:9092"}, Topic: "erp.invoices", Message: "erp_InvoicePosted"}
	with := func(f func(in *Input)) Input {
		in := ok
		in.Brokers = append([]string(nil), ok.Brokers...)
		f(&in)
		return in
	}
	for _, tc := range []struct {
		name   string
		in     Input
		fields []string
	}{
		{"ok", ok, nil},
		{"scram and tls", with(func(in *Input) {
			in.SASL = KafkaSASL{Mechanism: kafkaconf.MechanismSCRAMSHA512, User: "u", Password: "p"}
			in.TLS = KafkaTLS{Enabled: true}
			in.ConsumerGroup = "erp-readers"
			in.DeadLetter = "erp.bad"
		}), nil},
		{"no brokers", with(func(in *Input) { in.Brokers = nil }), []string{"brokers"}},
		{"bad broker", with(func(in *Input) { in.Brokers = []string{"kafka-1"} }), []string{"brokers[0]"}},
		{"no topic", with(func(in *Input) { in.Topic = "" }), []string{"topic"}},
		{"bad topic", with(func(in *Input) { in.Topic = "erp invoices" }), []string{"topic"}},
		{"bad dead letter", with(func(in *Input) { in.DeadLetter = "a*b" }), []string{"deadLetter"}},
		{"dead letter is the topic", with(func(in *Input) { in.DeadLetter = in.Topic }), []string{"deadLetter"}},
		{"default dead letter too long", with(func(in *Input) { in.Topic = strings.Repeat("t", 245) }), []string{"deadLetter"}},
		{"url and subject", with(func(in *Input) { in.URL = "nats://n:4222"; in.Subject = "a.b" }), []string{"url", "subject"}},
		{"sasl without password", with(func(in *Input) { in.SASL = KafkaSASL{Mechanism: "PLAIN", User: "u"} }), []string{"sasl.password"}},
		{"group", with(func(in *Input) { in.ConsumerGroup = "a\nb" }), []string{"consumerGroup"}},
		{"kafka fields on a queue", Input{Name: "q", Kind: KindQueue, URL: "amqp://r/", Queue: "q", Message: "m", Topic: "t", KeyIsMessageID: true},
			[]string{"topic", "keyIsMessageId"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.in.Validate()
			var fields []string
			if err != nil {
				for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
					var fe *FieldError
					require.ErrorAs(t, e, &fe)
					require.Equal(t, errcode.InvalidArgument, errcode.Of(fe))
					fields = append(fields, fe.Field)
				}
			}
			require.Equal(t, tc.fields, fields, "%v", err)
		})
	}
	require.Equal(t, "bizevents-erp", ok.ConsumerGroupID())
	require.Equal(t, "erp.invoices", ok.Source())
	require.Equal(t, "erp.invoices.deadletter", ok.DeadLetterDestination())
}
