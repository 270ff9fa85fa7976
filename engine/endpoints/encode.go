package endpoints

import (
	"encoding/json"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"
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

// appendString appends s as a JSON string, as encoding/json does with
// SetEscapeHTML(false): quotes, backslashes and control characters
// escaped, U+2028 and U+2029 escaped, invalid UTF-8 replaced by U+FFFD.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
