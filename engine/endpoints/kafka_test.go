package endpoints_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unsafe"

	"github.com/IBM/sarama"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/errcode"
)

// The Kafka tests run against sarama's MockBroker: a server of the Kafka
// wire protocol over TCP, in the test process, answering each request
// type as programmed. No real Kafka is involved.

const kafkaTopic = "bizevents.accounts"

// kafkaPartitions is how many partitions the mock broker's topic has.
const kafkaPartitions = 8

// mockKafka is a MockBroker leading every partition of kafkaTopic.
type mockKafka struct {
	b       *sarama.MockBroker
	produce *sarama.MockProduceResponse
	// close closes the broker, once.
	close func()
}

// kafkaAPIs are the APIs the mock broker says it has, InitProducerId
// (22) with idempotence.
func kafkaAPIs(idempotence bool) []sarama.ApiVersionsResponseKey {
	keys := []sarama.ApiVersionsResponseKey{
		{ApiKey: 0, MinVersion: 0, MaxVersion: 7},  // Produce
		{ApiKey: 3, MinVersion: 0, MaxVersion: 7},  // Metadata
		{ApiKey: 18, MinVersion: 0, MaxVersion: 3}, // ApiVersions
	}
	if idempotence {
		keys = append(keys, sarama.ApiVersionsResponseKey{ApiKey: 22, MinVersion: 0, MaxVersion: 1})
	}
	return keys
}

func newMockKafka(t *testing.T, idempotence bool) *mockKafka {
	t.Helper()
	b := sarama.NewMockBroker(t, 1)
	var once sync.Once
	closeBroker := func() { once.Do(b.Close) }
	t.Cleanup(closeBroker)
	meta := sarama.NewMockMetadataResponse(t).SetBroker(b.Addr(), b.BrokerID())
	for p := range int32(kafkaPartitions) {
		meta.SetLeader(kafkaTopic, p, b.BrokerID())
	}
	m := &mockKafka{b: b, produce: sarama.NewMockProduceResponse(t), close: closeBroker}
	b.SetHandlerByMap(map[string]sarama.MockResponse{
		"ApiVersionsRequest":    sarama.NewMockApiVersionsResponse(t).SetApiKeys(kafkaAPIs(idempotence)),
		"MetadataRequest":       meta,
		"InitProducerIDRequest": sarama.NewMockInitProducerIDResponse(t).SetProducerID(4242),
		"ProduceRequest":        m.produce,
	})
	return m
}

// record is a record the mock broker received.
type record struct {
	topic     string
	partition int32
	key       string
	value     string
	headers   http.Header
	// raw are the headers in their order and spelling.
	raw        []string
	producerID int64
}

// records returns the records of the produce requests the broker
// received, in order.
//
// sarama keeps a decoded request's records in an unexported field: it is
// read with reflect, which is what the broker decoded from the wire.
func (m *mockKafka) records(t *testing.T) []record {
	t.Helper()
	var out []record
	for _, rr := range m.b.History() {
		req, ok := rr.Request.(*sarama.ProduceRequest)
		if !ok {
			continue
		}
		f := reflect.ValueOf(req).Elem().FieldByName("records")
		byTopic := reflect.NewAt(f.Type(), unsafe.Pointer(f.UnsafeAddr())).Elem().Interface().(map[string]map[int32]sarama.Records)
		for topic, parts := range byTopic {
			for p, recs := range parts {
				require.NotNil(t, recs.RecordBatch, "records in a record batch (Kafka 0.11 and later), for headers")
				for _, r := range recs.RecordBatch.Records {
					rec := record{topic: topic, partition: p, key: string(r.Key), value: string(r.Value), headers: http.Header{},
						producerID: recs.RecordBatch.ProducerID}
					for _, h := range r.Headers {
						rec.headers.Add(string(h.Key), string(h.Value))
						rec.raw = append(rec.raw, string(h.Key))
					}
					out = append(out, rec)
				}
			}
		}
	}
	return out
}

// requests counts the requests of a type the broker received.
func (m *mockKafka) requests(kind any) int {
	n := 0
	for _, rr := range m.b.History() {
		if reflect.TypeOf(rr.Request) == reflect.TypeOf(kind) {
			n++
		}
	}
	return n
}

func newKafka(t testing.TB, cfg endpoints.KafkaConfig) *endpoints.Kafka {
	if cfg.Now == nil {
		cfg.Now = fixedNow
	}
	if cfg.RetryBackoff == 0 {
		cfg.RetryBackoff = 10 * time.Millisecond
	}
	k := endpoints.NewKafka(cfg)
	t.Cleanup(func() { require.NoError(t, k.Close()) })
	return k
}

func kafkaEndpoint(addr string) endpoints.Endpoint {
	return endpoints.Endpoint{Name: "contoso_erp_kafka", Kind: endpoints.KindKafka, Brokers: []string{addr},
		Topic: kafkaTopic, Timeout: 10 * time.Second}
}

// partitionOf is the partition sarama's default (hash) partitioner picks
// for key.
func partitionOf(t *testing.T, key string) int32 {
	t.Helper()
	p, err := sarama.NewHashPartitioner(kafkaTopic).Partition(&sarama.ProducerMessage{Key: sarama.StringEncoder(key)}, kafkaPartitions)
	require.NoError(t, err)
	return p
}

func TestKafkaDeliverFormats(t *testing.T) {
	t.Parallel()
	for _, f := range []endpoints.Format{endpoints.FormatContext, endpoints.FormatCloudEventsStructured, endpoints.FormatCloudEventsBinary} {
		for _, replay := range []bool{false, true} {
			name := string(f)
			if replay {
				name += "/replay"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				mk := newMockKafka(t, true)
				k := newKafka(t, endpoints.KafkaConfig{})
				e := kafkaEndpoint(mk.b.Addr())
				e.Format = f
				e.Secrets = []string{secretA, secretB}
				d := endpoints.Delivery{ID: "job-7", Attempt: 2, Replay: replay, ReplayID: "r-1", Context: sampleContext(t)}
				a := k.Deliver(context.Background(), e, d)
				require.NoError(t, a.Err)
				require.False(t, a.Retryable)
				require.Zero(t, a.Status)
				require.Positive(t, a.Duration)

				want := webhookSends(t, f, e.Secrets, d)
				recs := mk.records(t)
				require.Len(t, recs, 1)
				r := recs[0]
				require.Equal(t, kafkaTopic, r.topic)
				require.Equal(t, string(want.Body), r.value, "the body a web hook receives")
				require.Equal(t, d.Context.StreamID, r.key, "the row's stream is the key")
				require.Equal(t, partitionOf(t, d.Context.StreamID), r.partition, "the key picks the partition")
				for _, name := range r.raw {
					require.Equal(t, strings.ToLower(name), name, "header names in lower case")
				}
				require.Equal(t, want.Header.Get("Content-Type"), r.headers.Get("content-type"))
				require.Equal(t, "job-7", r.headers.Get("webhook-id"), "the delivery's id, for consumers to deduplicate")
				require.Equal(t, "2", r.headers.Get("x-bizevents-attempt"))
				require.Equal(t, correlation, r.headers.Get(endpoints.HeaderCorrelationID))
				requireSameHeaders(t, want.Header, r.headers, "Ce-Id", "Ce-Type", "Ce-Source", "Ce-Specversion", "Ce-Subject",
					"Ce-Time", "Ce-Dataschema", "Ce-Correlationid", "Ce-Position", "Ce-Bizeventsreplay")
				if replay {
					require.Equal(t, "true", r.headers.Get(endpoints.HeaderReplay))
					require.Equal(t, "job-7/replay/r-1", r.headers.Get("_watermill_message_uuid"), "a replay is no duplicate of the first delivery")
				} else {
					require.Empty(t, r.headers.Values(endpoints.HeaderReplay))
					require.Equal(t, "job-7", r.headers.Get("_watermill_message_uuid"))
				}
				if f == endpoints.FormatCloudEventsBinary {
					require.Equal(t, "job-7", r.headers.Get("ce_id"), "as the CloudEvents Kafka binding writes it")
					require.Equal(t, want.Header.Get("Ce-Type"), r.headers.Get("ce_type"))
					require.Equal(t, "bizevents.account.Create", r.headers.Get("ce_type"))
					require.Empty(t, r.headers.Values("ce-id"))
				}
				var rawHeaders []*sarama.RecordHeader
				for name, vs := range r.headers {
					for _, v := range vs {
						rawHeaders = append(rawHeaders, &sarama.RecordHeader{Key: []byte(name), Value: []byte(v)})
					}
				}
				for _, secret := range e.Secrets {
					require.NoError(t, endpoints.Verify(secret, endpoints.HeaderFromKafka(rawHeaders), []byte(r.value), brokerNow, time.Minute),
						"each secret of the rotation verifies")
				}
			})
		}
	}
}

func TestKafkaOrdersByRow(t *testing.T) {
	t.Parallel()
	mk := newMockKafka(t, true)
	k := newKafka(t, endpoints.KafkaConfig{})
	e := kafkaEndpoint(mk.b.Addr())
	rows := []string{"account/1", "account/2", "account/3", "account/4", "account/5", "account/6"}
	for i, row := range append(rows, rows...) {
		c := sampleContext(t)
		c.StreamID = row
		require.NoError(t, k.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-" + string(rune('a'+i)), Context: c}).Err)
	}
	recs := mk.records(t)
	require.Len(t, recs, 2*len(rows))
	partitions := map[string]int32{}
	seen := map[int32]bool{}
	for i, r := range recs {
		row := rows[i%len(rows)]
		require.Equal(t, row, r.key, "deliveries are produced in order, keyed by row")
		if p, ok := partitions[row]; ok {
			require.Equal(t, p, r.partition, "one row, one partition")
		}
		partitions[row] = r.partition
		seen[r.partition] = true
	}
	require.Greater(t, len(seen), 1, "rows spread over the partitions")
}

func TestKafkaIdempotentWhenTheBrokerCan(t *testing.T) {
	t.Parallel()
	for _, idempotence := range []bool{true, false} {
		t.Run(map[bool]string{true: "InitProducerId", false: "old broker"}[idempotence], func(t *testing.T) {
			t.Parallel()
			mk := newMockKafka(t, idempotence)
			k := newKafka(t, endpoints.KafkaConfig{})
			require.NoError(t, k.Deliver(context.Background(), kafkaEndpoint(mk.b.Addr()), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)}).Err)
			recs := mk.records(t)
			require.Len(t, recs, 1)
			if idempotence {
				require.Equal(t, 1, mk.requests(&sarama.InitProducerIDRequest{}))
				require.Equal(t, int64(4242), recs[0].producerID, "the idempotent producer's id is on the batch")
			} else {
				require.Zero(t, mk.requests(&sarama.InitProducerIDRequest{}))
				require.Equal(t, int64(-1), recs[0].producerID, "no producer id")
			}
			for _, rr := range mk.b.History() {
				if req, ok := rr.Request.(*sarama.ProduceRequest); ok {
					require.Equal(t, sarama.WaitForAll, req.RequiredAcks, "acks=all")
				}
			}
		})
	}
}

func TestKafkaBrokerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		kerr      sarama.KError
		retryable bool
	}{
		{"not leader", sarama.ErrNotLeaderForPartition, true},
		{"not enough replicas", sarama.ErrNotEnoughReplicas, true},
		{"no authorization", sarama.ErrTopicAuthorizationFailed, false},
		{"too large", sarama.ErrMessageSizeTooLarge, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mk := newMockKafka(t, false)
			for p := range int32(kafkaPartitions) {
				mk.produce.SetError(kafkaTopic, p, tc.kerr)
			}
			k := newKafka(t, endpoints.KafkaConfig{Retries: 2})
			a := k.Deliver(context.Background(), kafkaEndpoint(mk.b.Addr()), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
			require.Error(t, a.Err)
			require.Equal(t, tc.retryable, a.Retryable)
			var be *endpoints.BrokerError
			require.ErrorAs(t, a.Err, &be)
			require.Equal(t, "contoso_erp_kafka", be.Endpoint)
			require.ErrorIs(t, a.Err, tc.kerr)
			require.Equal(t, errcode.Unavailable, errcode.Of(a.Err))
			if tc.retryable {
				require.Equal(t, 3, mk.requests(&sarama.ProduceRequest{}), "the producer's own retries came first")
			}
		})
	}
}

func TestKafkaUnreachable(t *testing.T) {
	t.Parallel()
	mk := newMockKafka(t, false)
	addr := mk.b.Addr()
	mk.close()
	k := newKafka(t, endpoints.KafkaConfig{DialTimeout: time.Second})
	a := k.Deliver(context.Background(), kafkaEndpoint(addr), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	require.True(t, a.Retryable)
	var ne *endpoints.NetworkError
	require.ErrorAs(t, a.Err, &ne, "%v", a.Err)
	require.NotContains(t, a.Err.Error(), "password")
}

func TestKafkaTimeout(t *testing.T) {
	t.Parallel()
	mk := newMockKafka(t, false)
	k := newKafka(t, endpoints.KafkaConfig{})
	e := kafkaEndpoint(mk.b.Addr())
	require.NoError(t, k.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-1", Context: sampleContext(t)}).Err, "connected")
	mk.b.SetLatency(2 * time.Second)
	e.Timeout = 200 * time.Millisecond
	a := k.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-2", Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, endpoints.ErrTimeout)
	require.True(t, a.Retryable)
	require.Less(t, a.Duration, 2*time.Second, "the attempt ends at the endpoint's timeout")
}

func TestKafkaRefusesWhatItCannotSend(t *testing.T) {
	t.Parallel()
	k := newKafka(t, endpoints.KafkaConfig{})
	e := kafkaEndpoint("127.0.0.1:1")
	e.Topic = "bad topic"
	a := k.Deliver(context.Background(), e, endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	var fe *endpoints.FieldError
	require.ErrorAs(t, a.Err, &fe)
	require.Equal(t, "topic", fe.Field)
	require.False(t, a.Retryable)

	a = k.Deliver(context.Background(), streamEndpoint("nats://127.0.0.1:4222", "S"), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	require.ErrorAs(t, a.Err, &fe)
	require.Equal(t, "kind", fe.Field, "a stream endpoint is not Kafka's")

	a = k.Deliver(context.Background(), kafkaEndpoint("127.0.0.1:1"), endpoints.Delivery{Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, endpoints.ErrInvalidDelivery)

	require.NoError(t, k.Close())
	a = k.Deliver(context.Background(), kafkaEndpoint("127.0.0.1:1"), endpoints.Delivery{ID: "d-1", Context: sampleContext(t)})
	require.ErrorIs(t, a.Err, endpoints.ErrClosed)
	require.True(t, a.Retryable)
}

func TestKafkaEndpointValidate(t *testing.T) {
	t.Parallel()
	ok := kafkaEndpoint("kafka-1:9092")
	with := func(f func(e *endpoints.Endpoint)) endpoints.Endpoint {
		e := ok
		e.Brokers = append([]string(nil), ok.Brokers...)
		f(&e)
		return e
	}
	for _, tc := range []struct {
		name   string
		e      endpoints.Endpoint
		fields []string
	}{
		{"ok", ok, nil},
		{"sasl and tls", with(func(e *endpoints.Endpoint) {
			e.SASL = endpoints.KafkaSASL{Mechanism: endpoints.KafkaSASLSCRAMSHA256, User: "u", Password: "p"}
			e.TLS = endpoints.KafkaTLS{Enabled: true, ServerName: "kafka.example"}
		}), nil},
		{"no brokers", with(func(e *endpoints.Endpoint) { e.Brokers = nil }), []string{"brokers"}},
		{"broker with a scheme", with(func(e *endpoints.Endpoint) { e.Brokers = []string{"kafka://k:9092"} }), []string{"brokers[0]"}},
		{"no topic", with(func(e *endpoints.Endpoint) { e.Topic = "" }), []string{"topic"}},
		{"bad topic", with(func(e *endpoints.Endpoint) { e.Topic = "a/b" }), []string{"topic"}},
		{"url", with(func(e *endpoints.Endpoint) { e.URL = "kafka://k:9092" }), []string{"url"}},
		{"auth", with(func(e *endpoints.Endpoint) {
			e.Auth = endpoints.Auth{Type: endpoints.AuthHTTPHeader, Name: "X", Value: "v"}
		}), []string{"auth"}},
		{"sasl unknown", with(func(e *endpoints.Endpoint) {
			e.SASL = endpoints.KafkaSASL{Mechanism: "OAUTHBEARER", User: "u", Password: "p"}
		}), []string{"sasl.mechanism"}},
		{"sasl no password", with(func(e *endpoints.Endpoint) {
			e.SASL = endpoints.KafkaSASL{Mechanism: endpoints.KafkaSASLPlain, User: "u"}
		}), []string{"sasl.password"}},
		{"tls off", with(func(e *endpoints.Endpoint) { e.TLS = endpoints.KafkaTLS{ServerName: "x"} }), []string{"tls"}},
		{"other kinds' fields", with(func(e *endpoints.Endpoint) { e.Subject = "a.b"; e.Queue = "q" }), []string{"queue", "subject"}},
		{"kafka fields on a stream", endpoints.Endpoint{Name: "s", Kind: endpoints.KindStream, URL: "nats://n:4222", Subject: "a.b",
			Brokers: []string{"k:9092"}, Topic: "t", SASL: endpoints.KafkaSASL{Mechanism: "PLAIN"}}, []string{"brokers", "topic", "sasl"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.e.Validate()
			var fields []string
			for _, e := range flatten(err) {
				var fe *endpoints.FieldError
				require.ErrorAs(t, e, &fe)
				require.Equal(t, errcode.InvalidArgument, errcode.Of(fe))
				fields = append(fields, fe.Field)
			}
			require.Equal(t, tc.fields, fields, "%v", err)
			if err != nil {
				require.NotContains(t, err.Error(), "\"p\"", "no password quoted")
			}
		})
	}
}

// flatten is the errors an errors.Join holds.
func flatten(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{errors.Unwrap(err)}
}
