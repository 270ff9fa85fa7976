package endpoints

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// Kind is how an endpoint receives deliveries.
type Kind string

// The kinds.
const (
	// KindWebhook posts each delivery over HTTP ([Webhook]).
	KindWebhook Kind = "webhook"
	// KindQueue publishes each delivery to RabbitMQ over AMQP 0.9.1, the
	// Service Bus analog ([Queue]).
	KindQueue Kind = "queue"
	// KindStream publishes each delivery to NATS JetStream, the Event Hub
	// analog ([Stream]).
	KindStream Kind = "stream"
	// KindKafka publishes each delivery to a Kafka topic, the other Event
	// Hub analog ([Kafka]).
	KindKafka Kind = "kafka"
)

// Format is how a delivery's body and headers carry the execution context.
type Format string

// The formats.
const (
	// FormatContext posts the [ExecutionContext] as JSON (Content-Type
	// application/json), as Dataverse posts its RemoteExecutionContext. The
	// zero Format is FormatContext.
	FormatContext Format = "context"
	// FormatCloudEventsStructured posts a CloudEvents 1.0 JSON envelope
	// (Content-Type application/cloudevents+json) whose data is the
	// execution context.
	FormatCloudEventsStructured Format = "cloudevents-structured"
	// FormatCloudEventsBinary posts the execution context as the body
	// (Content-Type application/json) and the CloudEvents attributes as ce-*
	// headers.
	FormatCloudEventsBinary Format = "cloudevents-binary"
)

// AuthType is how the receiver authenticates bizevents, named as Dataverse
// names a webhook's authentication options.
type AuthType string

// The authentication types.
const (
	// AuthNone sends no credentials (a signature may still prove the
	// sender: see [Endpoint.Secrets]). The zero AuthType is AuthNone.
	AuthNone AuthType = "None"
	// AuthHTTPHeader sends the header Name: Value.
	AuthHTTPHeader AuthType = "HttpHeader"
	// AuthWebhookKey adds the query parameter code=Value, as Azure
	// Functions expect (Dataverse's WebhookKey). Name is unused.
	AuthWebhookKey AuthType = "WebhookKey"
	// AuthQueryString adds query parameters: Name=Value, or, with no Name,
	// every parameter of Value read as a query string ("a=1&b=2"), as
	// Dataverse's HttpQueryString holds several pairs.
	AuthQueryString AuthType = "HttpQueryString"
)

// Auth is how the receiver authenticates bizevents.
type Auth struct {
	Type AuthType
	// Name is the header (AuthHTTPHeader) or query parameter
	// (AuthQueryString) name.
	Name string
	// Value is the credential. It is never shown in errors.
	Value string
}

// DefaultTimeout is an endpoint's Timeout when none is set: Dataverse's
// webhook timeout.
const DefaultTimeout = 60 * time.Second

// Endpoint is a service endpoint as a solution defines it.
type Endpoint struct {
	// Name identifies the endpoint in its solution, e.g. contoso_erp_hook:
	// lower case letters, digits and underscores, starting with a letter,
	// at most 64 characters. Steps name it.
	Name string
	// Kind is how the endpoint receives deliveries: [KindWebhook],
	// [KindQueue], [KindStream] or [KindKafka].
	Kind Kind
	// URL is where deliveries go. A web hook's is http:// or https://,
	// with a host and no user:password (use Auth). A queue's is the
	// broker's amqp:// or amqps:// URI, amqp://user:password@host:5672/vhost;
	// a stream's the NATS server's nats:// (or tls://, ws://, wss://) URL,
	// several separated by commas, credentials in it
	// (nats://user:password@host:4222 or nats://token@host). Deliveries to
	// one URL share one connection. A kafka endpoint has none: see
	// Brokers.
	URL string
	// Auth is how a web hook's receiver authenticates bizevents. A queue
	// or a stream takes none: its credentials are in the URL.
	Auth Auth
	// Queue is a queue endpoint's queue: it is declared (durable, no
	// arguments) when it does not exist, and an existing one is used as it
	// is. With Exchange set too, it is bound to the exchange with its own
	// name as the routing key. At most 255 bytes, not starting with "amq.".
	Queue string
	// Exchange is the exchange a queue endpoint publishes to, which must
	// exist (its type is the broker owner's choice). The routing key is
	// Queue when set, else the event's CloudEvents type
	// (bizevents.account.Create), for a topic exchange's bindings. Empty:
	// the default exchange, which routes to Queue.
	Exchange string
	// Subject is the NATS subject a stream endpoint publishes to, such as
	// bizevents.contoso.orders: tokens separated by dots, no wildcards or
	// spaces. Required for a stream.
	Subject string
	// Stream is the JetStream stream that must store the messages. When set,
	// it is created if it does not exist (file storage, limits retention,
	// the server's default duplicate window, Subject as its one subject);
	// an existing stream is used as it is, and a publish the stream does not
	// capture fails. Empty: whichever stream captures Subject.
	Stream string
	// Brokers are a kafka endpoint's bootstrap brokers, host:port each
	// (kafka-1:9092). Required for kafka. Deliveries with the same
	// Brokers, SASL and TLS share one producer.
	Brokers []string
	// Topic is the Kafka topic a kafka endpoint publishes to: ASCII
	// letters, digits, '.', '_' and '-', at most 249. It must exist, or
	// the brokers must create topics on first use. Required for kafka.
	Topic string
	// SASL authenticates a kafka endpoint to its brokers (PLAIN,
	// SCRAM-SHA-256, SCRAM-SHA-512). Zero: no SASL.
	SASL KafkaSASL
	// TLS secures a kafka endpoint's connections. Zero: plaintext.
	TLS KafkaTLS
	// Format is what a delivery looks like. Default: [FormatContext].
	Format Format
	// Timeout bounds one attempt, from sending the request to reading the
	// response's excerpt. Default: [DefaultTimeout].
	Timeout time.Duration
	// Secrets sign deliveries with Standard Webhooks (webhook-id,
	// webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256>").
	// Several secrets are a rotation: each delivery carries one signature
	// per secret, space-separated, so a receiver holding either verifies
	// it. A secret is "whsec_" and the base64 of 24 to 64 random bytes, as
	// Standard Webhooks writes them ([NewSecret] makes one). None: unsigned.
	Secrets []string
}

// WithDefaults returns a copy of e with the documented defaults filled in.
func (e Endpoint) WithDefaults() Endpoint {
	if e.Format == "" {
		e.Format = FormatContext
	}
	if e.Auth.Type == "" {
		e.Auth.Type = AuthNone
	}
	if e.Timeout == 0 {
		e.Timeout = DefaultTimeout
	}
	return e
}

// isLogicalName reports whether s is a logical name as the solution
// schema defines it: ^[a-z][a-z0-9_]{0,63}$.
func isLogicalName(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// Secret lengths, in decoded bytes, that Standard Webhooks allows.
const (
	minSecretBytes = 24
	maxSecretBytes = 64
)

// Validate reports every problem of the endpoint's definition at once
// (errors.Join of [*FieldError]), nil when there is none. Zero Format,
// Auth.Type and Timeout are their defaults.
func (e Endpoint) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Endpoint: e.Name, Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	switch {
	case e.Name == "":
		bad("name", "is required")
	case !isLogicalName(e.Name):
		bad("name", "must be lower case letters, digits and underscores, starting with a letter, at most 64 characters")
	}
	switch e.Kind {
	case KindWebhook:
		validateURL(e.URL, bad)
		validateAuth(e.Auth, bad)
		onlyFor(e, bad, KindQueue, "queue", e.Queue)
		onlyFor(e, bad, KindQueue, "exchange", e.Exchange)
		onlyFor(e, bad, KindStream, "subject", e.Subject)
		onlyFor(e, bad, KindStream, "stream", e.Stream)
	case KindQueue:
		validateAMQP(e, bad)
	case KindStream:
		validateNATS(e, bad)
	case KindKafka:
		validateKafka(e, bad)
	case "":
		bad("kind", "is required: webhook, queue, stream or kafka")
		requireURL(e.URL, bad)
		validateAuth(e.Auth, bad)
	default:
		bad("kind", "%q is not supported: webhook, queue, stream or kafka", e.Kind)
		requireURL(e.URL, bad)
		validateAuth(e.Auth, bad)
	}
	if e.Kind != KindKafka {
		kafkaOnly(e, bad)
	}
	switch e.Format {
	case "", FormatContext, FormatCloudEventsStructured, FormatCloudEventsBinary:
	default:
		bad("format", "%q must be %s, %s or %s", e.Format, FormatContext, FormatCloudEventsStructured, FormatCloudEventsBinary)
	}
	if e.Timeout < 0 {
		bad("timeout", "must not be negative")
	}
	for i, s := range e.Secrets {
		field := fmt.Sprintf("secrets[%d]", i)
		if !strings.HasPrefix(s, secretPrefix) {
			bad(field, "must start with %s, as Standard Webhooks writes secrets", secretPrefix)
			continue
		}
		key, err := decodeSecret(s)
		switch {
		case err != nil:
			bad(field, "is not base64 after %s", secretPrefix)
		case len(key) < minSecretBytes || len(key) > maxSecretBytes:
			bad(field, "must decode to %d to %d bytes, not %d", minSecretBytes, maxSecretBytes, len(key))
		}
	}
	return errors.Join(errs...)
}

func validateURL(raw string, bad func(field, format string, args ...any)) {
	if !requireURL(raw, bad) {
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The parser's message quotes the URL, which may hold a key.
		bad("url", "is not a URL")
		return
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		bad("url", "must start with https:// or http://")
	}
	if u.Host == "" {
		bad("url", "has no host")
	}
	if u.User != nil {
		bad("url", "must not hold a user or password: use auth")
	}
}

// requireURL reports a missing URL, and whether there is one.
func requireURL(raw string, bad func(field, format string, args ...any)) bool {
	if raw == "" {
		bad("url", "is required")
		return false
	}
	return true
}

// onlyFor reports a field that is set on an endpoint of a kind that does
// not use it.
func onlyFor(e Endpoint, bad func(field, format string, args ...any), kind Kind, field, value string) {
	if value != "" {
		bad(field, "applies to %s endpoints, not to a %s", kind, e.Kind)
	}
}

func validateAuth(a Auth, bad func(field, format string, args ...any)) {
	switch a.Type {
	case "", AuthNone:
		if a.Name != "" || a.Value != "" {
			bad("auth", "type None takes no name or value")
		}
	case AuthHTTPHeader:
		switch {
		case a.Name == "":
			bad("auth.name", "is required: the header to send")
		case !isToken(a.Name):
			bad("auth.name", "%q is not a valid header name", a.Name)
		case isReservedHeader(a.Name):
			bad("auth.name", "%q is a header bizevents sets itself", a.Name)
		}
		if a.Value == "" {
			bad("auth.value", "is required")
		} else if !isHeaderValue(a.Value) {
			bad("auth.value", "must not hold control characters such as line breaks")
		}
	case AuthWebhookKey:
		if a.Name != "" {
			bad("auth.name", "type WebhookKey always sends the query parameter code: leave the name out")
		}
		if a.Value == "" {
			bad("auth.value", "is required: the key sent as ?code=")
		}
	case AuthQueryString:
		if a.Name != "" {
			if a.Value == "" {
				bad("auth.value", "is required")
			}
			break
		}
		q, err := url.ParseQuery(a.Value)
		if err != nil || len(q) == 0 {
			bad("auth.value", "with no name, must be a query string such as a=1&b=2")
		}
	default:
		bad("auth.type", "%q must be None, HttpHeader, WebhookKey or HttpQueryString", a.Type)
	}
}

// isToken reports whether s is an HTTP token (RFC 9110), as header names
// are.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// isHeaderValue reports whether s can be sent as a header value: no
// control characters but tab.
func isHeaderValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < 0x20 && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// isReservedHeader reports whether a header is one a delivery sets itself,
// which an auth header must not replace.
func isReservedHeader(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "host", "content-type", "content-length", "content-encoding", "transfer-encoding", "connection",
		"user-agent", "idempotency-key", "x-request-id", "x-ms-correlation-request-id":
		return true
	}
	for _, prefix := range []string{"webhook-", "ce-", "x-bizevents-", "x-ms-dynamics-"} {
		if strings.HasPrefix(n, prefix) {
			return true
		}
	}
	return false
}
