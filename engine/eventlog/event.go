package eventlog

import (
	"encoding/json"
	"time"

	"github.com/google/uuid"
)

// Event is one recorded message.
type Event struct {
	// ID identifies the event everywhere (deliveries carry it so subscribers
	// can deduplicate). Chosen by the appender or generated (UUIDv7).
	ID uuid.UUID
	// Position is the event's global, gapless position, starting at 1. It is
	// 0 for an event that is committed but not sealed yet (see the package
	// doc).
	Position int64
	// StreamID names the stream the event belongs to, e.g. "account/<uuid>".
	StreamID string
	// StreamVersion is the event's version within its stream, starting at 1.
	StreamVersion int64
	// Type is the message name, e.g. "Create" or "CustomerPurchase".
	Type string
	// Data is the event's payload, a JSON document, stored byte for byte.
	Data json.RawMessage
	// Metadata says who, when and why.
	Metadata Metadata
	// Hash chains the event to the one before it (see [ChainHash]); nil until
	// the event is sealed.
	Hash []byte
}

// Metadata is the context of an event: who caused it, as part of what, and when.
type Metadata struct {
	// UserID is the user the message ran as.
	UserID string
	// InitiatingUserID is the user who started the chain of messages (a
	// plugin may run a message as another user).
	InitiatingUserID string
	// CorrelationID is shared by every event of one business transaction,
	// across plugins, flows and subscribers.
	CorrelationID string
	// RequestID identifies the request (HTTP, broker message) that carried
	// the message.
	RequestID string
	// CausationID is the ID of the event or request that caused this one.
	CausationID string
	// Depth is how deep in the pipeline the message ran (1 for a caller's
	// message, +1 for each message a plugin or flow executes).
	Depth int
	// Solution is the solution that defined the message, if any.
	Solution string
	// Time is when the log recorded the event (UTC, microseconds). The log
	// sets it; a value given on append is ignored.
	Time time.Time
}

// NewEvent is an event to append.
type NewEvent struct {
	// ID is optional; a UUIDv7 is generated when it is zero.
	ID       uuid.UUID
	StreamID string
	Type     string
	Data     json.RawMessage
	Metadata Metadata
}

// Size is the event's size as counted against the maximum event size: its
// data plus every string it carries.
func (e *NewEvent) Size() int {
	m := &e.Metadata
	return len(e.Data) + len(e.StreamID) + len(e.Type) + len(m.UserID) + len(m.InitiatingUserID) +
		len(m.CorrelationID) + len(m.RequestID) + len(m.CausationID) + len(m.Solution)
}

// Version expectations for [AppendRequest.Expect].
const (
	// NoStream expects the stream to have no events yet.
	NoStream int64 = 0
)

// AppendRequest appends events atomically: all of them or none.
type AppendRequest struct {
	// Events to append, in order. Events of one stream get consecutive
	// versions in the order given.
	Events []NewEvent
	// Expect maps a stream to the version it must be at before this append
	// ([NoStream] for "must not exist"). A stream that is not listed is
	// appended to at whatever version it has. On a mismatch nothing is
	// appended and the error is a [*VersionConflictError].
	Expect map[string]int64
}

// ReadQuery selects sealed events in position order.
type ReadQuery struct {
	// After is the position to read after (0: from the start). A position
	// beyond the sealed head is an [ErrUnknownPosition].
	After int64
	// Limit caps the number of events returned; 0 means the default, and
	// values above the store's maximum are an error.
	Limit int
	// Filters; zero values match everything.
	StreamID string
	Types    []string
	// Since and Until select Time >= Since and Time < Until. Times are
	// stored to the microsecond; a bound between two microseconds acts as
	// the next one, so Since set to an event's Time includes the event.
	Since, Until  time.Time
	CorrelationID string
}

// StreamQuery reads one stream in version order, or, Backward, in
// reverse version order.
type StreamQuery struct {
	StreamID string
	// FromVersion is the first version to return (0 or 1: from the start).
	// A version more than one past the stream's last is an
	// [ErrUnknownPosition].
	//
	// Backward, it is the newest version to return, the others following
	// down to version 1 (0: from the stream's last version). A version past
	// the stream's last is an [ErrUnknownPosition].
	FromVersion int64
	// Backward reads from FromVersion down: the events before a version,
	// newest first. Reading one event at a known version is FromVersion v,
	// Limit 1, either way.
	Backward bool
	// Limit as in [ReadQuery].
	Limit int
}

// Head describes the end of the log.
type Head struct {
	// Position is the last sealed position (0 for an empty log).
	Position int64
	// Hash is the chain hash at Position: a digest of the whole sealed log
	// that can be handed to an outside notary.
	Hash []byte
	// Unsealed counts events that are committed but not yet sealed.
	Unsealed int64
}
