package endpoints

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bizevents/bizevents/internal/jsontext"
)

// Deliveries encode the execution context by hand rather than with
// encoding/json.
//
// Why: encoding/json re-scans every json.RawMessage it writes (to compact
// and validate it), at every level of nesting, and reflects over the
// structs: about 24 µs for a typical 2 KB context, a third of a loopback
// delivery's cost. Here the raw values are checked once with json.Valid
// and copied, and the fields are written in order. The output is the JSON
// encoding/json writes with SetEscapeHTML(false) (TestEncodeMatchesJSON
// holds the two together), except that raw values keep their own
// whitespace.

// appendContext appends c as JSON. A raw value that is not valid JSON is
// an error.
func appendContext(b []byte, c *ExecutionContext) ([]byte, error) {
	b = append(b, `{"MessageName":`...)
	b = appendString(b, c.MessageName)
	b = append(b, `,"PrimaryEntityName":`...)
	b = appendString(b, c.PrimaryEntityName)
	b = append(b, `,"PrimaryEntityId":`...)
	b = appendString(b, c.PrimaryEntityID)
	b = append(b, `,"Stage":`...)
	b = strconv.AppendInt(b, int64(c.Stage), 10)
	b = append(b, `,"Mode":`...)
	b = strconv.AppendInt(b, int64(c.Mode), 10)
	b = append(b, `,"Depth":`...)
	b = strconv.AppendInt(b, int64(c.Depth), 10)
	b = append(b, `,"UserId":`...)
	b = appendString(b, c.UserID)
	b = append(b, `,"InitiatingUserId":`...)
	b = appendString(b, c.InitiatingUserID)
	b = append(b, `,"CorrelationId":`...)
	b = appendString(b, c.CorrelationID)
	b = append(b, `,"RequestId":`...)
	b = appendString(b, c.RequestID)
	b = append(b, `,"OperationId":`...)
	b = appendString(b, c.OperationID)
	b = append(b, `,"OperationCreatedOn":`...)
	var err error
	if b, err = appendTime(b, c.OperationCreatedOn); err != nil {
		return nil, err
	}
	b = append(b, `,"OrganizationName":`...)
	b = appendString(b, c.OrganizationName)
	for _, p := range []struct {
		name string
		p    Parameters
	}{
		{`,"InputParameters":`, c.InputParameters},
		{`,"OutputParameters":`, c.OutputParameters},
		{`,"SharedVariables":`, c.SharedVariables},
		{`,"PreEntityImages":`, c.PreEntityImages},
		{`,"PostEntityImages":`, c.PostEntityImages},
	} {
		b = append(b, p.name...)
		if b, err = appendParameters(b, p.p); err != nil {
			return nil, fmt.Errorf("%s%w", p.name[2:len(p.name)-2], err)
		}
	}
	b = append(b, `,"EventId":`...)
	b = appendString(b, c.EventID)
	b = append(b, `,"Position":`...)
	b = strconv.AppendInt(b, c.Position, 10)
	b = append(b, `,"StreamId":`...)
	b = appendString(b, c.StreamID)
	b = append(b, `,"StreamVersion":`...)
	b = strconv.AppendInt(b, c.StreamVersion, 10)
	b = append(b, `,"Solution":`...)
	b = appendString(b, c.Solution)
	b = append(b, `,"StepName":`...)
	b = appendString(b, c.StepName)
	return append(b, '}'), nil
}

// appendCloudEvent appends the structured-mode envelope.
func appendCloudEvent(b []byte, ce *CloudEvent) ([]byte, error) {
	b = append(b, `{"specversion":`...)
	b = appendString(b, ce.SpecVersion)
	b = append(b, `,"id":`...)
	b = appendString(b, ce.ID)
	b = append(b, `,"source":`...)
	b = appendString(b, ce.Source)
	b = append(b, `,"type":`...)
	b = appendString(b, ce.Type)
	if ce.Subject != "" {
		b = append(b, `,"subject":`...)
		b = appendString(b, ce.Subject)
	}
	b = append(b, `,"time":`...)
	b = appendString(b, ce.Time)
	b = append(b, `,"datacontenttype":`...)
	b = appendString(b, ce.DataContentType)
	b = append(b, `,"dataschema":`...)
	b = appendString(b, ce.DataSchema)
	if ce.CorrelationID != "" {
		b = append(b, `,"correlationid":`...)
		b = appendString(b, ce.CorrelationID)
	}
	if ce.Position != "" {
		b = append(b, `,"position":`...)
		b = appendString(b, ce.Position)
	}
	if ce.Replay {
		b = append(b, `,"bizeventsreplay":true`...)
	}
	b = append(b, `,"data":`...)
	if ce.Data == nil {
		b = append(b, "null"...)
	} else {
		var err error
		if b, err = appendContext(b, ce.Data); err != nil {
			return nil, err
		}
	}
	return append(b, '}'), nil
}

// appendParameters appends a collection; nil is [].
func appendParameters(b []byte, p Parameters) ([]byte, error) {
	b = append(b, '[')
	for i, kv := range p {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"key":`...)
		b = appendString(b, kv.Key)
		b = append(b, `,"value":`...)
		switch {
		case len(kv.Value) == 0:
			b = append(b, "null"...)
		case json.Valid(kv.Value):
			b = append(b, kv.Value...)
		default:
			return nil, fmt.Errorf("[%d] (key %q): the value is not valid JSON", i, kv.Key)
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}

// appendTime appends t as encoding/json does: RFC 3339 with nanoseconds.
func appendTime(b []byte, t time.Time) ([]byte, error) {
	if y := t.Year(); y < 0 || y > 9999 {
		return nil, fmt.Errorf("time %v: year outside [0,9999]", t)
	}
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"'), nil
}

// appendString appends s as a JSON string (see jsontext.AppendString).
func appendString(b []byte, s string) []byte { return jsontext.AppendString(b, s) }

// encoded is a delivery encoded for its endpoint, whatever the kind: the
// body a web hook posts is the body a queue or a stream carries.
type encoded struct {
	// c is the execution context as sent (OperationID filled).
	c *ExecutionContext
	// body is c in the endpoint's Format.
	body []byte
	// contentType is the body's media type.
	contentType string
	// ce is the envelope whose attributes travel as Ce-* headers in
	// binary mode, nil in the other formats.
	ce *CloudEvent
}

// encodeDelivery encodes d for e (whose defaults are filled) in e's Format.
func encodeDelivery(e *Endpoint, d *Delivery) (encoded, error) {
	m := encoded{c: sendable(d.Context, d.ID), contentType: ContentTypeJSON}
	body := make([]byte, 0, sizeHint(m.c))
	var err error
	switch e.Format {
	case FormatCloudEventsStructured:
		m.contentType = ContentTypeCloudEvents
		body, err = appendCloudEvent(body, newCloudEvent(d.ID, m.c, d.Replay))
	case FormatCloudEventsBinary:
		m.ce = newCloudEvent(d.ID, m.c, d.Replay)
		body, err = appendContext(body, m.c)
	default:
		body, err = appendContext(body, m.c)
	}
	if err != nil {
		return encoded{}, fmt.Errorf("%w: encode the execution context: %v", ErrInvalidDelivery, err)
	}
	m.body = body
	return m, nil
}

// headers calls set with the headers every kind of endpoint carries, under
// their canonical names: Webhook-Id and Webhook-Timestamp (ts, Unix
// seconds), Webhook-Signature when e has secrets, X-Bizevents-Attempt,
// X-Bizevents-Replay on a replay, then the format's own: the Ce-*
// attributes in binary mode, Dataverse's X-Ms-* and X-Request-Id with the
// context. Content-Type is left to the caller: a queue sends it as a
// message property.
func (m *encoded) headers(e *Endpoint, d *Delivery, ts string, set func(name, value string)) error {
	set("Webhook-Id", d.ID)
	set("Webhook-Timestamp", ts)
	if len(e.Secrets) > 0 {
		keys := make([][]byte, len(e.Secrets))
		for i, s := range e.Secrets {
			k, err := decodeSecret(s)
			if err != nil {
				return err // Validate checked: unreachable
			}
			keys[i] = k
		}
		set("Webhook-Signature", signKeys(keys, d.ID, ts, m.body))
	}
	set(HeaderAttempt, strconv.Itoa(max(d.Attempt, 1)))
	if d.Replay {
		set(HeaderReplay, "true")
	}
	switch e.Format {
	case FormatCloudEventsBinary:
		m.ce.headers(set)
	case FormatContext:
		// The headers Dataverse sends with its webhooks.
		c := m.c
		set("X-Request-Id", headerValue(c.RequestID))
		set("X-Ms-Correlation-Request-Id", headerValue(c.CorrelationID))
		set("X-Ms-Dynamics-Organization", headerValue(c.OrganizationName))
		set("X-Ms-Dynamics-Entity-Name", headerValue(c.PrimaryEntityName))
		set("X-Ms-Dynamics-Request-Name", headerValue(c.MessageName))
	}
	return nil
}

// brokerHeaders calls set with the headers of a message on a queue or a
// stream: the web hook's ([encoded.headers]) and [HeaderCorrelationID],
// names in lower case, as the CloudEvents NATS binding and Standard
// Webhooks spell them: broker headers, unlike HTTP's, are matched
// case-sensitively.
func (m *encoded) brokerHeaders(e *Endpoint, d *Delivery, now time.Time, set func(name, value string)) error {
	lower := func(k, v string) { set(strings.ToLower(k), v) }
	if err := m.headers(e, d, strconv.FormatInt(now.Unix(), 10), lower); err != nil {
		return err
	}
	if id := m.correlationID(); id != "" {
		lower(HeaderCorrelationID, id)
	}
	return nil
}

// correlationID is the context's correlation id, empty for the nil GUID.
func (m *encoded) correlationID() string {
	if m.c.CorrelationID == nilGUID {
		return ""
	}
	return m.c.CorrelationID
}
