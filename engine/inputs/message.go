package inputs

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
)

// The headers of a dead letter, besides the original message's own.
const (
	// HeaderErrorCode is the stable code of the failure (errcode), e.g.
	// invalid_value.
	HeaderErrorCode = "x-bizevents-error-code"
	// HeaderError is the failure's message, at most [MaxErrorHeader] bytes.
	HeaderError = "x-bizevents-error"
	// HeaderInput is the name of the input that received the message.
	HeaderInput = "x-bizevents-input"
	// HeaderMessageID is the original message's id (AMQP message-id,
	// Nats-Msg-Id or watermill UUID), absent when it had none. On a queue
	// the dead letter's message-id is the same.
	HeaderMessageID = "x-bizevents-message-id"
)

// HeaderCorrelationID is the header whose GUID becomes the invocation's
// correlation id. On a queue, the AMQP correlation-id property stands in
// for it when the header is missing.
const HeaderCorrelationID = "correlation_id"

// MaxErrorHeader is the longest [HeaderError] value, in bytes; a longer
// message is cut, with "…" at the end.
const MaxErrorHeader = 4096

// Error is a failure of this package with a stable code: a message whose
// body is not a request of the input's custom API (invalid_argument, never
// retried), or a broker that cannot be reached or set up (unavailable, from
// Start).
type Error struct {
	Code    errcode.Code
	Message string
}

func (e *Error) Error() string { return e.Message }

// ErrorCode returns the code.
func (e *Error) ErrorCode() errcode.Code { return e.Code }

func malformed(format string, args ...any) *Error {
	return &Error{Code: errcode.InvalidArgument, Message: fmt.Sprintf(format, args...)}
}

// Retryable reports whether running the message again may succeed: its
// code is unavailable, internal, canceled, rate_limited or
// version_conflict. Every other failure (invalid_value, invalid_argument,
// not_found, handler_failed, ...) is the message's: it is dead-lettered at
// once.
func Retryable(err error) bool {
	switch errcode.Of(err) {
	case errcode.Unavailable, errcode.Internal, errcode.Canceled, errcode.RateLimited, errcode.VersionConflict:
		return true
	}
	return false
}

// body is what a message's body says.
type body struct {
	params map[string]any
	// cloudEvent is true for a CloudEvents structured envelope; ceID and
	// ceSource are its id and source, correlation its correlationid
	// extension when that is a GUID.
	cloudEvent       bool
	ceID, ceSource   string
	correlationID    uuid.UUID
	hasCorrelationID bool
}

// decodeBody reads a message body: a JSON object of the custom API's
// request parameters, or a CloudEvents 1.0 structured envelope whose data
// is that object. An empty body is an empty object.
func decodeBody(b []byte) (body, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return body{params: map[string]any{}}, nil
	}
	if !utf8.Valid(b) {
		return body{}, malformed("the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return body{}, malformed("the body is not valid JSON: %s", err.Error())
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return body{}, malformed("the body has data after the JSON object")
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return body{}, malformed("the body must be a JSON object: the custom API's parameters, or a CloudEvent whose data they are")
	}
	if _, ok := obj["specversion"]; !ok {
		return body{params: obj}, nil
	}
	return decodeCloudEvent(obj)
}

// decodeCloudEvent reads a CloudEvents structured envelope.
func decodeCloudEvent(obj map[string]any) (body, error) {
	str := func(name string) string { s, _ := obj[name].(string); return s }
	if sv := str("specversion"); sv != "1.0" {
		return body{}, malformed("specversion %v is not supported: CloudEvents 1.0", obj["specversion"])
	}
	var missing []string
	for _, name := range []string{"id", "source", "type"} {
		if str(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return body{}, malformed("the CloudEvent has no %s (a string is required)", strings.Join(missing, ", "))
	}
	if ct := str("datacontenttype"); ct != "" && !isJSONMediaType(ct) {
		return body{}, malformed("datacontenttype %s is not JSON: data must be a JSON object of the custom API's parameters", ct)
	}
	if _, ok := obj["data_base64"]; ok {
		return body{}, malformed("data_base64 is not supported: send data as a JSON object of the custom API's parameters")
	}
	out := body{cloudEvent: true, ceID: str("id"), ceSource: str("source")}
	switch d := obj["data"].(type) {
	case nil:
		out.params = map[string]any{}
	case map[string]any:
		out.params = d
	default:
		return body{}, malformed("the CloudEvent's data must be a JSON object of the custom API's parameters, not %s", jsonKind(d))
	}
	if id, err := uuid.Parse(str("correlationid")); err == nil && id != uuid.Nil {
		out.correlationID, out.hasCorrelationID = id, true
	}
	return out, nil
}

func isJSONMediaType(ct string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

func jsonKind(v any) string {
	switch v.(type) {
	case []any:
		return "an array"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	}
	return fmt.Sprintf("%T", v)
}

// request makes the invocation of a message.
//
// The idempotency key is the broker's message id; for a message without
// one that is a CloudEvent, its source and id (which CloudEvents makes
// unique); else none, and a redelivered message runs again.
func request(in Input, msg *message.Message) (pipeline.Request, error) {
	b, err := decodeBody(msg.Payload)
	if err != nil {
		return pipeline.Request{}, err
	}
	req := pipeline.Request{
		Message:        in.Message,
		Table:          in.Table,
		Parameters:     b.params,
		Caller:         pipeline.Caller{UserID: in.User},
		IdempotencyKey: msg.UUID,
	}
	if req.IdempotencyKey == "" && b.cloudEvent {
		req.IdempotencyKey = "cloudevent:" + b.ceSource + " " + b.ceID
	}
	if id, err := uuid.Parse(msg.Metadata.Get(HeaderCorrelationID)); err == nil && id != uuid.Nil {
		req.CorrelationID = id
	} else if b.hasCorrelationID {
		req.CorrelationID = b.correlationID
	}
	return req, nil
}

// deadLetter makes the dead letter of msg: its body and headers, and why.
func deadLetter(in Input, msg *message.Message, cause error) *message.Message {
	dl := message.NewMessage(msg.UUID, msg.Payload)
	for k, v := range msg.Metadata {
		if !strings.HasPrefix(k, "_watermill") {
			dl.Metadata[k] = v
		}
	}
	code := errcode.Of(cause)
	reason := cause.Error()
	if len(reason) > MaxErrorHeader {
		cut := MaxErrorHeader - len("…")
		for cut > 0 && !utf8.RuneStart(reason[cut]) {
			cut--
		}
		reason = reason[:cut] + "…"
	}
	dl.Metadata.Set(HeaderErrorCode, string(code))
	dl.Metadata.Set(HeaderError, reason)
	dl.Metadata.Set(HeaderInput, in.Name)
	if msg.UUID != "" {
		dl.Metadata.Set(HeaderMessageID, msg.UUID)
	}
	return dl
}
