package eventlog

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
)

// Limits on identifiers, in bytes, checked before anything is written.
const (
	MaxStreamIDLength   = 512
	MaxTypeLength       = 256
	MaxSubscriberLength = 200
)

// PreparedAppend is an [AppendRequest] that passed validation, with IDs and
// times filled in, ready for a backend to assign versions and write.
type PreparedAppend struct {
	// Events in request order. StreamVersion holds the event's 1-based
	// offset within its stream in this request until [PreparedAppend.AssignVersions].
	Events []Event
	// Streams lists each stream once, in order of first appearance.
	Streams []StreamAppend
}

// StreamAppend is one stream's share of an append.
type StreamAppend struct {
	StreamID string
	Count    int
	// Expect is the version the stream must be at, or -1 for no check.
	Expect int64
}

// PrepareAppend validates req against c and fills in what the log decides:
// event IDs, the recording time, the offsets within each stream. Every
// problem is a typed error; nothing has been written when it fails.
func (c Config) PrepareAppend(req AppendRequest) (*PreparedAppend, error) {
	return c.prepare(req, true)
}

// PrepareAppendStorageChecksJSON is PrepareAppend for a backend whose
// storage rejects data that is not JSON by itself (PostgreSQL's json type):
// it leaves out the JSON syntax check, which would otherwise run twice and
// is the costliest part of validation. When the storage rejects the data,
// the backend calls [FindInvalidData] to report which event was at fault.
func (c Config) PrepareAppendStorageChecksJSON(req AppendRequest) (*PreparedAppend, error) {
	return c.prepare(req, false)
}

// FindInvalidData returns the error for the first event of req whose data is
// not valid JSON, or nil when all are valid.
func FindInvalidData(req AppendRequest) error {
	for i := range req.Events {
		if !json.Valid(req.Events[i].Data) {
			return &InvalidEventError{Index: i, Field: "data", Reason: "not valid JSON"}
		}
	}
	return nil
}

func (c Config) prepare(req AppendRequest, checkJSON bool) (*PreparedAppend, error) {
	if len(req.Events) == 0 {
		return nil, Errorf(ErrInvalidEvent, "no events to append")
	}
	now := c.Now().UTC().Truncate(time.Microsecond) // what both backends store
	p := &PreparedAppend{Events: make([]Event, len(req.Events))}
	index := make(map[string]int, 1)
	for i := range req.Events {
		ne := &req.Events[i]
		if err := c.checkEvent(i, ne, checkJSON); err != nil {
			return nil, err
		}
		id := ne.ID
		if id == uuid.Nil {
			var err error
			if id, err = uuid.NewV7(); err != nil {
				return nil, err
			}
		}
		si, ok := index[ne.StreamID]
		if !ok {
			si = len(p.Streams)
			index[ne.StreamID] = si
			p.Streams = append(p.Streams, StreamAppend{StreamID: ne.StreamID, Expect: -1})
		}
		p.Streams[si].Count++
		md := ne.Metadata
		md.Time = now
		p.Events[i] = Event{
			ID:            id,
			StreamID:      ne.StreamID,
			StreamVersion: int64(p.Streams[si].Count),
			Type:          ne.Type,
			Data:          ne.Data,
			Metadata:      md,
		}
	}
	for stream, v := range req.Expect {
		si, ok := index[stream]
		if !ok {
			return nil, Errorf(ErrInvalidEvent, "expectation for stream %q, which has no event in the request", stream)
		}
		if v < 0 {
			return nil, Errorf(ErrInvalidEvent, "expected version %d of stream %q is negative", v, stream)
		}
		p.Streams[si].Expect = v
	}
	return p, nil
}

func (c Config) checkEvent(i int, e *NewEvent, checkJSON bool) error {
	bad := func(field, reason string) error {
		return &InvalidEventError{Index: i, Field: field, Reason: reason}
	}
	if size := e.Size(); size > c.MaxEventSize {
		return &InvalidEventError{Index: i, Field: "size", TooLarge: true,
			Reason: "event is " + itoa(size) + " bytes, the limit is " + itoa(c.MaxEventSize)}
	}
	if err := checkText("stream id", e.StreamID, MaxStreamIDLength, true); err != "" {
		return bad("stream id", err)
	}
	if err := checkText("type", e.Type, MaxTypeLength, true); err != "" {
		return bad("type", err)
	}
	if len(e.Data) == 0 {
		return bad("data", "empty, want a JSON document")
	}
	if !utf8.Valid(e.Data) || (checkJSON && !json.Valid(e.Data)) {
		return bad("data", "not valid JSON")
	}
	m := &e.Metadata
	for _, f := range []struct{ name, v string }{
		{"user id", m.UserID}, {"initiating user id", m.InitiatingUserID},
		{"correlation id", m.CorrelationID}, {"request id", m.RequestID},
		{"causation id", m.CausationID}, {"solution", m.Solution},
	} {
		if err := checkText(f.name, f.v, MaxStreamIDLength, false); err != "" {
			return bad("metadata."+f.name, err)
		}
	}
	if m.Depth < 0 {
		return bad("metadata.depth", "negative")
	}
	return nil
}

// checkText returns why s is not an acceptable identifier, or "".
func checkText(name, s string, max int, required bool) string {
	switch {
	case s == "" && required:
		return "empty"
	case len(s) > max:
		return "longer than " + itoa(max) + " bytes"
	case !utf8.ValidString(s):
		return "not valid UTF-8"
	case strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }):
		return "contains a control character"
	}
	return ""
}

// AssignVersions checks the expectations against the streams' current
// versions (absent: 0) and turns each event's offset into its version.
func (p *PreparedAppend) AssignVersions(current map[string]int64) error {
	for _, s := range p.Streams {
		if s.Expect >= 0 && current[s.StreamID] != s.Expect {
			return &VersionConflictError{StreamID: s.StreamID, Expected: s.Expect, Actual: current[s.StreamID]}
		}
	}
	for i := range p.Events {
		p.Events[i].StreamVersion += current[p.Events[i].StreamID]
	}
	return nil
}

// CheckRead validates q, fills in the default limit, and rounds Since and
// Until up to whole microseconds, the precision events' times are stored
// with: for such a time t, t >= Since and t < Until hold exactly when they
// hold against the rounded bounds, so every backend filters alike whatever
// precision its driver sends (pgx truncates, which would let an event a
// fraction of a microsecond before Since through).
func (c Config) CheckRead(q *ReadQuery) error {
	if q.After < 0 {
		return Errorf(ErrInvalidQuery, "position %d is negative", q.After)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		return Errorf(ErrInvalidQuery, "time range is empty: until %s is not after since %s", q.Until, q.Since)
	}
	q.Since, q.Until = ceilMicro(q.Since), ceilMicro(q.Until)
	return c.checkLimit(&q.Limit)
}

// ceilMicro rounds t up to a whole microsecond, in UTC; the zero time stays
// zero.
func ceilMicro(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	r := t.UTC().Truncate(time.Microsecond)
	if r.Before(t) {
		r = r.Add(time.Microsecond)
	}
	return r
}

// CheckSubscriber validates a subscriber name for [Store.Offset] and
// [Store.SetOffset]: not empty, at most [MaxSubscriberLength] bytes of UTF-8
// without control characters. The error matches [ErrInvalidQuery] (code
// invalid_argument).
func CheckSubscriber(subscriber string) error {
	if err := checkText("subscriber", subscriber, MaxSubscriberLength, true); err != "" {
		return Errorf(ErrInvalidQuery, "subscriber name: %s", err)
	}
	return nil
}

// CheckOffset validates the arguments of [Store.SetOffset]: a valid
// subscriber name (see [CheckSubscriber]) and a position that is not
// negative.
func CheckOffset(subscriber string, position int64) error {
	if err := CheckSubscriber(subscriber); err != nil {
		return err
	}
	if position < 0 {
		return Errorf(ErrInvalidQuery, "offset position %d is negative", position)
	}
	return nil
}

// CheckStream validates q and fills in the default limit and start.
func (c Config) CheckStream(q *StreamQuery) error {
	if q.StreamID == "" {
		return Errorf(ErrInvalidQuery, "stream id is empty")
	}
	if q.FromVersion < 0 {
		return Errorf(ErrInvalidQuery, "version %d is negative", q.FromVersion)
	}
	if q.FromVersion == 0 && !q.Backward {
		q.FromVersion = 1
	}
	return c.checkLimit(&q.Limit)
}

// ReadStreamBackward is the part of a backward [Store.ReadStream] above
// SQL, for backends: read returns the stream's events at or below a
// version, newest first, at most q.Limit of them (q checked by
// [Config.CheckStream]); ReadStreamBackward passes it the version to start
// at and tells a missing stream or version from an empty answer.
func ReadStreamBackward(q StreamQuery, read func(upTo int64) ([]Event, error)) ([]Event, error) {
	upTo := q.FromVersion
	if upTo == 0 {
		upTo = math.MaxInt64
	}
	evs, err := read(upTo)
	if err != nil {
		return nil, err
	}
	switch {
	case len(evs) == 0:
		// Versions start at 1 and FromVersion is at least 1.
		return nil, Errorf(ErrStreamNotFound, "stream %q has no events", q.StreamID)
	case q.FromVersion > 0 && evs[0].StreamVersion < q.FromVersion:
		// Versions are contiguous: the newest at or below FromVersion is
		// FromVersion itself unless the stream ends before it.
		return nil, Errorf(ErrUnknownPosition, "version %d is past the end of stream %q (%d)", q.FromVersion, q.StreamID, evs[0].StreamVersion)
	}
	return evs, nil
}

func (c Config) checkLimit(limit *int) error {
	switch {
	case *limit < 0:
		return Errorf(ErrInvalidQuery, "limit %d is negative", *limit)
	case *limit == 0:
		*limit = c.DefaultReadLimit
	case *limit > c.MaxReadLimit:
		return Errorf(ErrInvalidQuery, "limit %d is over the maximum %d", *limit, c.MaxReadLimit)
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
