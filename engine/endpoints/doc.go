// Package endpoints delivers what happened, after commit, to the service
// endpoints a solution defines: web hooks ([Webhook], HTTP), queues
// ([Queue], RabbitMQ over AMQP 0.9.1, the Service Bus analog), streams
// ([Stream], NATS JetStream, the Event Hub analog) and Kafka topics
// ([Kafka], the other Event Hub analog). Every subscriber
// receives the execution context of the event, Dataverse's
// RemoteExecutionContext in JSON, built by [ContextFromEvent], as the same
// bytes whatever the kind.
//
// The job runner owns retries and schedules: each sender's Deliver makes
// one attempt and returns an [Attempt] that says what the receiver
// answered, whether trying again may help ([Attempt.Retryable]) and how
// long the receiver asked to wait ([Attempt.RetryAfter]). A queue or a
// stream counts as delivered once the broker has confirmed the message
// (publisher confirms; JetStream's ack), never on a bare send.
//
// # Queues and streams
//
// A [Queue] and a [Stream] each keep one connection per broker URL, shared
// by every endpoint and delivery to it and dialed again when lost. The
// body is the web hook's for the endpoint's Format; the headers too, but
// for HTTP's own (User-Agent, Idempotency-Key, the Auth), with
// [HeaderCorrelationID] added, and named in lower case (webhook-id,
// ce-id, x-bizevents-attempt), as Standard Webhooks and the CloudEvents
// NATS binding write them: broker headers are matched case-sensitively.
// A receiver checks the signature with Verify(secret, HeaderFrom(headers),
// body, ...), as a web hook's receiver does. A queue sends the content
// type as the content_type property and the delivery's ID as message_id;
// a stream sends content-type as a header and the ID as Nats-Msg-Id, which
// JetStream's duplicate window deduplicates.
//
// A [Kafka] sender publishes to kafka endpoints (the other Event Hub
// analog), through watermill-kafka's publisher, a sarama sync producer
// with acks=all, idempotent when the broker has InitProducerId. It keeps
// one producer per set of brokers, SASL and TLS. The record's value and
// headers are the stream's, but that binary mode's attributes are named
// ce_id, ce_type... as the CloudEvents Kafka binding names them; its key
// is the event's stream (the row), so that one row's events share a
// partition and keep their order; the delivery's ID is webhook-id and
// _watermill_message_uuid (with the replay's on a replay), for consumers
// to deduplicate. Its tests run against sarama's MockBroker, an
// in-process server of the Kafka protocol, not a real Kafka.
//
// # Formats
//
// An [Endpoint]'s [Format] says what a delivery looks like:
//
//	context                 the ExecutionContext JSON, Content-Type application/json,
//	                        with Dataverse's x-ms-dynamics-* and x-request-id headers
//	cloudevents-structured  a CloudEvents 1.0 envelope, Content-Type application/cloudevents+json,
//	                        whose data is the ExecutionContext
//	cloudevents-binary      the ExecutionContext as the body, the envelope's attributes as ce-* headers
//
// On a queue or a stream, binary mode's attributes are the same headers,
// in lower case: ce-id, ce-type...
//
// The CloudEvents attributes: id is the delivery's ID, source
// "/bizevents/<environment>/<solution>" ("engine" for a message no solution
// defined), type "bizevents." and the message, with its table first when it
// is on a table (bizevents.account.Create, bizevents.pos_CustomerPurchase),
// subject the event's stream, time the event's time, datacontenttype
// application/json, dataschema the execution context's schema, and the
// extensions correlationid, position (a string: CloudEvents integers have 32
// bits) and bizeventsreplay (true on a replay, absent otherwise).
// schemas/execution-context.schema.json and schemas/cloudevent.schema.json
// describe the JSON.
//
// # Signatures and headers
//
// Every delivery carries webhook-id (the delivery's ID, the same on every
// retry and replay, for the receiver to deduplicate), webhook-timestamp
// (Unix seconds) and, when the endpoint has secrets, webhook-signature, as
// Standard Webhooks defines them: "v1," and the base64 HMAC-SHA256 of
// "<webhook-id>.<webhook-timestamp>.<body>" under each secret, several
// separated by spaces during a rotation. Receivers check them with [Verify].
// The endpoint's [Auth] is added as Dataverse adds it (a header, ?code=, or
// query parameters); X-Bizevents-Attempt numbers the try and
// X-Bizevents-Replay: true marks a replay.
//
// # Where the execution context differs from Dataverse's
//
//   - Times are RFC 3339 strings, not "/Date(ms)/": OperationCreatedOn,
//     and datetime columns as the log stores them.
//   - Column values are plain JSON as the event records them: a lookup is
//     its row's id, a choice its number, money and decimals exact JSON
//     numbers, not Dataverse's EntityReference, OptionSetValue and Money
//     objects. Only the Target (and a parameter that is a reference) is an
//     Entity or EntityReference with "__type".
//   - Images are written like the Target, "__type" included; a pre image
//     needs the row before ([StepInfo.PreRow]), which the event does not
//     record.
//   - SharedVariables is always empty: what steps share inside the
//     transaction is not recorded in the event.
//   - Collections are sorted by key; FormattedValues, KeyAttributes and
//     RelatedEntities are always empty.
//   - BusinessUnitId, OrganizationId, OwningExtension, ParentContext,
//     SecondaryEntityName, IsolationMode, IsInTransaction, IsExecutingOffline,
//     IsOfflinePlayback and the Azure AD object ids are not sent; StepName
//     stands in for OwningExtension.
//   - bizevents adds EventId, Position, StreamId, StreamVersion, Solution and
//     StepName, which place the event in the log.
//   - Dataverse does not sign webhooks; bizevents signs with Standard
//     Webhooks when the endpoint has secrets.
package endpoints
