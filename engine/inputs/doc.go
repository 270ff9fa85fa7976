// Package inputs consumes broker messages and runs each one as an
// invocation of a custom API, like an HTTP POST of the action: for the
// systems (an ERP, a POS) that can only publish to a broker.
//
// An [Input] is a RabbitMQ queue (Kind queue, AMQP 0-9-1, the Service Bus
// analog), a NATS JetStream subject (Kind stream, the Event Hub analog) or
// a Kafka topic (Kind kafka), and the custom API its messages invoke. A [Runner] subscribes to every
// input through one watermill Router: a durable queue acked after the
// message ran (watermill-amqp), or a durable JetStream push consumer named
// bizevents-<input> with manual acks (watermill-nats). The runner creates
// what is missing: the queue and the dead-letter queue (durable, without
// arguments; a queue that exists is used as it is), the stream that holds
// the subject and the one that holds the dead-letter subject (file storage,
// limits retention, named bizevents-<input> and bizevents-<input>-deadletter
// unless the input names its stream), and the consumer.
//
// A kafka input is a consumer group (bizevents-<input> unless the input
// names one; engines sharing it share the topic's partitions) read
// through watermill-kafka: a new group starts at the topic's oldest
// record; a record's offset is committed once the record ran or was
// dead-lettered, never before; records of one partition run one at a
// time, in order. The topic and the dead-letter topic must exist (they
// are checked at Start): bizevents does not choose partitions or
// replication. Dead letters are produced with acks=all, idempotently when
// the broker can. The idempotency key is the record's
// _watermill_message_uuid header (what watermill publishers and bizevents
// kafka endpoints write), else its key when the input says KeyIsMessageID
// (not by default: records keyed by an entity share keys); a dead letter
// keeps the record's key and adds [HeaderKafkaPartition] and
// [HeaderKafkaOffset]. Kafka inputs are tested against sarama's
// MockBroker, not a real Kafka.
//
// # Messages
//
// A message's body is one of:
//
//   - a JSON object of the custom API's request parameters, as the body
//     of the Web API's POST: {"Amount": 12.5, "CustomerId": "..."};
//   - a CloudEvents 1.0 structured envelope (a JSON object with
//     specversion) whose data is that object; id, source and type are
//     required, datacontenttype must be JSON when given, data_base64 is
//     refused, and the correlationid extension is read. A CloudEvent in
//     binary mode is the first kind: its body is the data.
//
// An empty body is an empty object. A custom API with a parameter named
// specversion cannot take plain bodies: they read as CloudEvents.
//
// Each invocation runs as the input's User, with:
//
//   - the idempotency key the broker's message id: the AMQP message-id
//     property (else watermill's _watermill_message_uuid header), the
//     Nats-Msg-Id header (else watermill's). A message delivered again,
//     after a crash or a lost ack, returns the first run's response and
//     stores no second event. A message without an id that is a CloudEvent
//     is keyed by its source and id; any other runs again when it is
//     delivered again. Publishers should set a message id.
//   - the correlation id from the correlation_id header when it is a
//     GUID; on a queue the correlation-id property when the header is
//     missing; else the CloudEvent's correlationid extension; else a new
//     one.
//
// # Outcomes
//
// A message that ran is acked. One that failed for a reason no retry
// fixes (malformed JSON, an unknown or mistyped parameter, an unknown
// message, a handler's failure: every code but those [Retryable] names) is
// published to the input's dead letter and then acked. One that failed for
// a transient reason (unavailable, internal, canceled, rate_limited,
// version_conflict) is tried again with exponential backoff (watermill's
// Retry middleware, [Config.Retries] times) and then dead-lettered with its
// reason. When the runner stops during the tries, or the dead letter cannot
// be published, the message is nacked and the broker delivers it again:
// nothing is dropped silently.
//
// A dead letter is the original body with the original headers and id
// (the AMQP message-id on a queue) and [HeaderErrorCode], [HeaderError],
// [HeaderInput] and [HeaderMessageID]. The dead-letter destination is a
// queue for a queue input and a subject for a stream input, by default the
// source's name and ".deadletter".
//
// Messages of one input run one at a time, in the order the broker
// delivers them; several engines consuming the same input share its
// messages (competing consumers on the queue, one JetStream delivery
// group).
package inputs
