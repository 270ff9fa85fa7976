package endpoints

import (
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/bizevents/bizevents/schemas"
)

// CloudEvents media types and constants.
const (
	// ContentTypeJSON is the Content-Type of FormatContext and of
	// FormatCloudEventsBinary.
	ContentTypeJSON = "application/json"
	// ContentTypeCloudEvents is the Content-Type of
	// FormatCloudEventsStructured.
	ContentTypeCloudEvents = "application/cloudevents+json"
	// CloudEventsSpecVersion is the CloudEvents version of every event.
	CloudEventsSpecVersion = "1.0"
	// ExecutionContextSchema is the dataschema of every CloudEvent: the
	// $id of schemas/execution-context.schema.json.
	ExecutionContextSchema = schemas.BaseURL + "execution-context.schema.json"
)

// CloudEvent is the CloudEvents 1.0 envelope of a delivery in structured
// mode (schemas/cloudevent.schema.json); in binary mode the same
// attributes travel as ce-* headers.
type CloudEvent struct {
	SpecVersion string `json:"specversion"`
	// ID is the delivery's ID: a receiver treats two events of the same
	// source and id as one.
	ID string `json:"id"`
	// Source is "/bizevents/<environment>/<solution>", "engine" standing
	// for the solution of messages no solution defined.
	Source string `json:"source"`
	// Type is "bizevents." and the message, with its table first when the
	// message is on a table: bizevents.account.Create,
	// bizevents.pos_CustomerPurchase (global), bizevents.account.contoso_Approve
	// (a custom API bound to account).
	Type string `json:"type"`
	// Subject is the event's stream, e.g. account/<id>.
	Subject string `json:"subject,omitempty"`
	// Time is when the log recorded the event.
	Time            string `json:"time"`
	DataContentType string `json:"datacontenttype"`
	DataSchema      string `json:"dataschema"`
	// CorrelationID is the extension correlationid.
	CorrelationID string `json:"correlationid,omitempty"`
	// Position is the extension position, the event's log position as a
	// string: CloudEvents integers are 32 bits, positions 64.
	Position string `json:"position,omitempty"`
	// Replay is the extension bizeventsreplay, true on a re-delivery for
	// audit or recovery and left out otherwise.
	Replay bool `json:"bizeventsreplay,omitempty"`
	// Data is the execution context.
	Data *ExecutionContext `json:"data"`
}

// newCloudEvent builds the envelope of a delivery.
func newCloudEvent(id string, c *ExecutionContext, replay bool) *CloudEvent {
	ce := &CloudEvent{
		SpecVersion:     CloudEventsSpecVersion,
		ID:              id,
		Source:          cloudEventSource(c),
		Type:            CloudEventType(c),
		Subject:         c.StreamID,
		Time:            c.OperationCreatedOn.UTC().Format(time.RFC3339Nano),
		DataContentType: ContentTypeJSON,
		DataSchema:      ExecutionContextSchema,
		Replay:          replay,
		Data:            c,
	}
	if c.CorrelationID != nilGUID {
		ce.CorrelationID = c.CorrelationID
	}
	if c.Position > 0 {
		ce.Position = strconv.FormatInt(c.Position, 10)
	}
	return ce
}

// CloudEventType is the CloudEvents type of an execution context:
// "bizevents." and MessageName, with PrimaryEntityName and a dot in
// between when the message is on a table.
func CloudEventType(c *ExecutionContext) string {
	if c.PrimaryEntityName == "" || c.PrimaryEntityName == NoEntity {
		return "bizevents." + c.MessageName
	}
	return "bizevents." + c.PrimaryEntityName + "." + c.MessageName
}

func cloudEventSource(c *ExecutionContext) string {
	env := c.OrganizationName
	if env == "" {
		env = DefaultEnvironment
	}
	sol := c.Solution
	if sol == "" {
		sol = "engine"
	}
	return "/bizevents/" + url.PathEscape(env) + "/" + url.PathEscape(sol)
}

// headers maps the envelope's attributes to ce-* headers, named in
// canonical form (Ce-Id).
func (ce *CloudEvent) headers(set func(name, value string)) {
	set("Ce-Specversion", ce.SpecVersion)
	set("Ce-Id", headerValue(ce.ID))
	set("Ce-Source", headerValue(ce.Source))
	set("Ce-Type", headerValue(ce.Type))
	if ce.Subject != "" {
		set("Ce-Subject", headerValue(ce.Subject))
	}
	set("Ce-Time", ce.Time)
	set("Ce-Dataschema", headerValue(ce.DataSchema))
	if ce.CorrelationID != "" {
		set("Ce-Correlationid", headerValue(ce.CorrelationID))
	}
	if ce.Position != "" {
		set("Ce-Position", ce.Position)
	}
	if ce.Replay {
		set("Ce-Bizeventsreplay", "true")
	}
}

// headerValue percent-encodes a string for a header as the CloudEvents
// HTTP binding says: space, double quote, percent and everything outside
// printable ASCII, in upper-case hex.
func headerValue(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if needsEscape(s[i]) {
			clean = false
			break
		}
	}
	if clean {
		return s
	}
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + 16)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if needsEscape(c) {
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

func needsEscape(c byte) bool { return c <= 0x20 || c >= 0x7f || c == '"' || c == '%' }
