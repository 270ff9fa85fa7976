package inputs

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
)

// Kind is the kind of broker an [Input] consumes.
type Kind string

// The kinds.
const (
	// KindQueue is a RabbitMQ (AMQP 0-9-1) queue: the Service Bus analog.
	KindQueue Kind = "queue"
	// KindStream is a NATS JetStream subject: the Event Hub analog.
	KindStream Kind = "stream"
	// KindKafka is a Kafka topic read by a consumer group: the other
	// Event Hub analog.
	KindKafka Kind = "kafka"
)

// DeadLetterSuffix is appended to the queue or subject to name the default
// dead-letter destination: orders → orders.deadletter.
const DeadLetterSuffix = ".deadletter"

// DurablePrefix is prepended to an input's name to name its JetStream
// durable consumer: bizevents-erp_orders.
const DurablePrefix = "bizevents-"

// Input is one broker input: where messages come from and the custom API
// each one invokes.
type Input struct {
	// Name identifies the input in logs and dead letters; lower case
	// letters, digits and underscores. It names the JetStream durable
	// consumer ([DurablePrefix] + Name), so it must be unique across the
	// engines that share a broker.
	Name string
	// Kind is [KindQueue], [KindStream] or [KindKafka].
	Kind Kind
	// URL is the broker: amqp:// or amqps:// for a queue, nats:// (or
	// tls://) for a stream; none for a kafka input (see Brokers).
	URL string
	// Queue is the AMQP queue a queue input consumes; it is declared
	// durable when missing.
	Queue string
	// Subject is the NATS subject a stream input consumes; wildcards are
	// allowed, but then DeadLetter must be set.
	Subject string
	// Stream is the JetStream stream that holds Subject. Default: the
	// stream the server finds for the subject, or a new stream named
	// [DurablePrefix] + Name that captures it when none does.
	Stream string
	// Message is the unique name of the custom API each message invokes: an
	// action, not a function.
	Message string
	// Table is the bound table of a TableCollection custom API; empty for a
	// global one.
	Table string
	// DeadLetter is the queue (queue input), subject (stream input) or
	// topic (kafka input) bad messages are published to. Default: the
	// queue, subject or topic and [DeadLetterSuffix].
	DeadLetter string
	// Brokers are a kafka input's bootstrap brokers, host:port each.
	Brokers []string
	// Topic is the Kafka topic a kafka input consumes; it and the
	// dead-letter topic must exist.
	Topic string
	// ConsumerGroup is a kafka input's consumer group: the engines that
	// share it share the topic's partitions. Default: [DurablePrefix] +
	// Name.
	ConsumerGroup string
	// KeyIsMessageID makes a kafka record's key its message id, the
	// idempotency key, when it has no _watermill_message_uuid header.
	// Only for publishers that key every record uniquely: records that
	// share a key (an entity's id, for ordering) would be taken for
	// redeliveries of the first one.
	KeyIsMessageID bool
	// SASL authenticates a kafka input to its brokers. Zero: none.
	SASL KafkaSASL
	// TLS secures a kafka input's connections. Zero: plaintext.
	TLS KafkaTLS
	// User is the user each invocation runs as; zero for none.
	User uuid.UUID
}

// Source returns the queue or the subject the input consumes.
func (in Input) Source() string {
	switch in.Kind {
	case KindStream:
		return in.Subject
	case KindKafka:
		return in.Topic
	}
	return in.Queue
}

// DeadLetterDestination returns DeadLetter, or its default.
func (in Input) DeadLetterDestination() string {
	if in.DeadLetter != "" {
		return in.DeadLetter
	}
	return in.Source() + DeadLetterSuffix
}

// Durable returns the name of the input's JetStream durable consumer.
func (in Input) Durable() string { return DurablePrefix + in.Name }

// FieldError is one problem of an [Input]'s definition. Validate joins one
// per problem (errors.Join); errors.As finds the first.
type FieldError struct {
	// Input is the input's name, as given (maybe empty or invalid).
	Input string
	// Field names the field as a solution file spells it: "name", "kind",
	// "url", "queue", "subject", "stream", "message", "deadLetter",
	// "brokers", "topic", "consumerGroup", "sasl.*", "tls.*".
	Field string
	// Problem says what is wrong, never quoting the URL (it may hold a
	// password).
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("input %s: %s: %s", quoteName(e.Input), e.Field, e.Problem)
}

// ErrorCode is [errcode.InvalidArgument].
func (e *FieldError) ErrorCode() errcode.Code { return errcode.InvalidArgument }

func quoteName(name string) string {
	if !isLogicalName(name) {
		return fmt.Sprintf("%q", name)
	}
	return name
}

// Validate reports every problem of the definition at once.
func (in Input) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &FieldError{Input: in.Name, Field: field, Problem: fmt.Sprintf(format, args...)})
	}
	switch {
	case in.Name == "":
		bad("name", "is required")
	case !isLogicalName(in.Name):
		bad("name", "must be lower case letters, digits and underscores, starting with a letter, at most 64 characters")
	}
	if in.Message == "" {
		bad("message", "is required: the unique name of the custom API each message invokes")
	}
	switch in.Kind {
	case KindQueue:
		validateURL(in.URL, bad, "amqp", "amqps")
		if in.Subject != "" {
			bad("subject", "is for a stream input; a queue input reads queue")
		}
		if in.Stream != "" {
			bad("stream", "is for a stream input; a queue input reads queue")
		}
		switch {
		case in.Queue == "":
			bad("queue", "is required: the AMQP queue to consume")
		default:
			validateQueue("queue", in.Queue, bad)
		}
		if in.DeadLetter != "" {
			validateQueue("deadLetter", in.DeadLetter, bad)
		}
		if in.Queue != "" && in.DeadLetterDestination() == in.Queue {
			bad("deadLetter", "must not be the queue the input consumes")
		}
	case KindStream:
		validateURL(in.URL, bad, "nats", "tls")
		if in.Queue != "" {
			bad("queue", "is for a queue input; a stream input reads subject")
		}
		subjectOK := false
		switch {
		case in.Subject == "":
			bad("subject", "is required: the NATS subject to consume")
		case !validSubject(in.Subject, true):
			bad("subject", "%q is not a NATS subject: dot-separated tokens without spaces; * and > only as whole tokens, > last", in.Subject)
		default:
			subjectOK = true
		}
		if in.Stream != "" && !validStreamName(in.Stream) {
			bad("stream", "%q is not a JetStream stream name: no spaces, dots, *, >, / or \\", in.Stream)
		}
		switch dl := in.DeadLetter; {
		case dl == "" && subjectOK && hasWildcard(in.Subject):
			bad("deadLetter", "is required when the subject has wildcards: a subject without * or >")
		case dl != "" && !validSubject(dl, false):
			bad("deadLetter", "%q is not a NATS subject without wildcards", dl)
		case subjectOK && (dl != "" || !hasWildcard(in.Subject)) && subjectMatches(in.Subject, in.DeadLetterDestination()):
			bad("deadLetter", "%s is a subject the input consumes (%s): bad messages would come back", in.DeadLetterDestination(), in.Subject)
		}
	case KindKafka:
		validateKafka(in, bad)
	case "":
		bad("kind", "is required: queue, stream or kafka")
	default:
		bad("kind", "%q is not supported: queue, stream or kafka", in.Kind)
	}
	if in.Kind != KindKafka {
		kafkaOnly(in, bad)
	}
	return errors.Join(errs...)
}

func validateURL(raw string, bad func(field, format string, args ...any), schemes ...string) {
	if raw == "" {
		bad("url", "is required")
		return
	}
	u, err := url.Parse(raw)
	if err != nil {
		// The parser's message quotes the URL, which may hold a password.
		bad("url", "is not a URL")
		return
	}
	ok := false
	for _, s := range schemes {
		ok = ok || u.Scheme == s
	}
	if !ok {
		bad("url", "must start with %s://", strings.Join(schemes, ":// or "))
	}
	if u.Host == "" {
		bad("url", "has no host")
	}
}

// validateQueue checks an AMQP queue name: at most 255 bytes, not reserved.
func validateQueue(field, name string, bad func(field, format string, args ...any)) {
	switch {
	case len(name) > 255:
		bad(field, "an AMQP queue name has at most 255 bytes")
	case strings.HasPrefix(name, "amq."):
		bad(field, "%q: names starting with amq. are reserved by the broker", name)
	case strings.TrimSpace(name) != name || strings.ContainsAny(name, "\x00\r\n"):
		bad(field, "%q: no leading or trailing spaces or control characters", name)
	}
}

// isLogicalName reports whether s is lower case letters, digits and
// underscores, starting with a letter, at most 64 bytes.
func isLogicalName(s string) bool {
	if s == "" || len(s) > 64 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
			return false
		}
	}
	return true
}

// validSubject reports whether s is a NATS subject: non-empty tokens
// separated by dots, no white space; with wildcards, * as a whole token and
// > as the whole last token.
func validSubject(s string, wildcards bool) bool {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return false
	}
	tokens := strings.Split(s, ".")
	for i, t := range tokens {
		switch {
		case t == "":
			return false
		case t == "*" || t == ">":
			if !wildcards || (t == ">" && i != len(tokens)-1) {
				return false
			}
		case strings.ContainsAny(t, "*>"):
			return false
		}
	}
	return true
}

func hasWildcard(subject string) bool {
	for _, t := range strings.Split(subject, ".") {
		if t == "*" || t == ">" {
			return true
		}
	}
	return false
}

// subjectMatches reports whether the literal subject s matches pattern.
func subjectMatches(pattern, s string) bool {
	p, t := strings.Split(pattern, "."), strings.Split(s, ".")
	for i, tok := range p {
		switch {
		case tok == ">":
			return len(t) > i
		case i >= len(t):
			return false
		case tok != "*" && tok != t[i]:
			return false
		}
	}
	return len(p) == len(t)
}

// validStreamName reports whether s can name a JetStream stream.
func validStreamName(s string) bool {
	return s != "" && len(s) <= 255 && !strings.ContainsAny(s, " \t\r\n.*>/\\")
}
