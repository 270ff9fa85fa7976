package endpoints

import (
	"fmt"
	"net/http"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
)

// Error is a sentinel of this package with a stable code. Errors wrapping
// one match it with errors.Is.
type Error struct {
	Code    errcode.Code
	Message string
}

func (e *Error) Error() string { return "endpoints: " + e.Message }

// ErrorCode returns the stable code.
func (e *Error) ErrorCode() errcode.Code { return e.Code }

// Sentinel errors.
var (
	// ErrTimeout: the endpoint did not answer within its Timeout. The
	// attempt is retryable.
	ErrTimeout = &Error{Code: errcode.Unavailable, Message: "the endpoint did not answer in time"}
	// ErrInvalidDelivery: the Delivery is unusable (no ID, an ID that
	// cannot be a header, no Context, a Context value that is not valid
	// JSON). Retrying does not help.
	ErrInvalidDelivery = &Error{Code: errcode.InvalidArgument, Message: "invalid delivery"}

	// ErrClosed: the [Queue], [Stream] or [Kafka] was closed; the attempt is
	// retryable, by another process or after a restart.
	ErrClosed = &Error{Code: errcode.Unavailable, Message: "the sender is closed"}

	// ErrInvalidSecret: a signing secret is not "whsec_" and base64.
	ErrInvalidSecret = &Error{Code: errcode.InvalidArgument, Message: "invalid signing secret"}
	// ErrSignatureMissing: a webhook-id, webhook-timestamp or
	// webhook-signature header is missing or empty.
	ErrSignatureMissing = &Error{Code: errcode.Unauthenticated, Message: "webhook signature headers missing"}
	// ErrSignatureTimestamp: webhook-timestamp is not Unix seconds, or is
	// further from now than the tolerance (an old message replayed, or a
	// clock far off).
	ErrSignatureTimestamp = &Error{Code: errcode.Unauthenticated, Message: "webhook timestamp out of tolerance"}
	// ErrSignatureMismatch: no v1 signature in webhook-signature matches the
	// secret: a wrong secret or a changed body, id or timestamp.
	ErrSignatureMismatch = &Error{Code: errcode.Unauthenticated, Message: "no webhook signature matches"}
)

// FieldError is one problem of an [Endpoint]'s definition. Validate joins
// one per problem (errors.Join); errors.As finds the first.
type FieldError struct {
	// Endpoint is the endpoint's name, as given (maybe empty or invalid).
	Endpoint string
	// Field names the field as a solution file spells it: "name", "kind",
	// "url", "auth", "auth.type", "auth.name", "auth.value", "queue",
	// "exchange", "subject", "stream", "brokers", "brokers[0]", "topic",
	// "sasl", "sasl.mechanism", "sasl.user", "sasl.password", "tls",
	// "tls.ca", "tls.cert", "tls.key", "format", "timeout", "secrets[1]".
	Field string
	// Problem says what is wrong, never quoting a secret or an auth value.
	Problem string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("endpoint %s: %s: %s", quoteName(e.Endpoint), e.Field, e.Problem)
}

// ErrorCode is [errcode.InvalidArgument].
func (e *FieldError) ErrorCode() errcode.Code { return errcode.InvalidArgument }

func quoteName(name string) string {
	if !isLogicalName(name) {
		return fmt.Sprintf("%q", name)
	}
	return name
}

// StatusError is an attempt that got an answer outside 2xx.
type StatusError struct {
	Endpoint string
	// Status is the HTTP status the endpoint answered.
	Status int
}

func (e *StatusError) Error() string {
	text := http.StatusText(e.Status)
	if text == "" {
		text = "unknown status"
	}
	return fmt.Sprintf("endpoints: deliver to %s: answered %d %s", e.Endpoint, e.Status, text)
}

// ErrorCode is [errcode.Unavailable]: the receiving system did not take
// the delivery.
func (e *StatusError) ErrorCode() errcode.Code { return errcode.Unavailable }

// NetworkError is an attempt that got no answer for a reason other than the
// timeout: the connection was refused or reset, the name did not resolve,
// TLS failed. Err is the transport's error (errors.Is(err,
// syscall.ECONNREFUSED) sees through); the message never holds the URL,
// whose query may carry a key.
type NetworkError struct {
	Endpoint string
	Err      error
}

func (e *NetworkError) Error() string {
	return fmt.Sprintf("endpoints: deliver to %s: %v", e.Endpoint, e.Err)
}

// Unwrap returns the transport's error.
func (e *NetworkError) Unwrap() error { return e.Err }

// ErrorCode is [errcode.Unavailable].
func (e *NetworkError) ErrorCode() errcode.Code { return errcode.Unavailable }

// EventError is an event whose data cannot be made into an execution
// context: the event is malformed and will never be delivered, so a
// subscriber should dead-letter it rather than retry.
type EventError struct {
	EventID uuid.UUID
	Err     error
}

func (e *EventError) Error() string {
	return fmt.Sprintf("endpoints: execution context of event %s: %v", e.EventID, e.Err)
}

// Unwrap returns the cause.
func (e *EventError) Unwrap() error { return e.Err }

// ErrorCode is [errcode.InvalidEvent].
func (e *EventError) ErrorCode() errcode.Code { return errcode.InvalidEvent }
