package eventlog

import (
	"errors"
	"fmt"

	"github.com/bizevents/bizevents/engine/errcode"
)

// Sentinel errors. Errors returned by a [Store] match them with errors.Is;
// the richer types below carry the details.
var (
	// ErrVersionConflict: a stream was not at the expected version.
	ErrVersionConflict = &Error{Code: errcode.VersionConflict, Message: "stream version conflict"}
	// ErrInvalidEvent: an event is malformed (empty type or stream id,
	// data that is not JSON, a bad expectation).
	ErrInvalidEvent = &Error{Code: errcode.InvalidEvent, Message: "invalid event"}
	// ErrEventTooLarge: an event is over the configured maximum size.
	ErrEventTooLarge = &Error{Code: errcode.EventTooLarge, Message: "event too large"}
	// ErrUnknownPosition: a read started beyond the end of the log or stream.
	ErrUnknownPosition = &Error{Code: errcode.UnknownPosition, Message: "unknown position"}
	// ErrStreamNotFound: a stream read named a stream with no events.
	ErrStreamNotFound = &Error{Code: errcode.StreamNotFound, Message: "stream not found"}
	// ErrInvalidQuery: a read's parameters are out of range.
	ErrInvalidQuery = &Error{Code: errcode.InvalidArgument, Message: "invalid query"}
	// ErrClosed: the store or transaction is closed.
	ErrClosed = &Error{Code: errcode.Unavailable, Message: "event log closed"}
)

// Error is an event log error with a stable code. The sentinels above are
// *Error values; errors built with [Errorf] match the sentinel of their code.
type Error struct {
	Code    errcode.Code
	Message string
}

func (e *Error) Error() string { return "eventlog: " + e.Message }

// ErrorCode returns the stable code.
func (e *Error) ErrorCode() errcode.Code { return e.Code }

// Is matches any *Error with the same code, so errors.Is(err,
// ErrInvalidEvent) holds for every invalid-event error whatever its message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Errorf returns an error matching sentinel, with a more specific message.
func Errorf(sentinel *Error, format string, args ...any) error {
	return &Error{Code: sentinel.Code, Message: sentinel.Message + ": " + fmt.Sprintf(format, args...)}
}

// VersionConflictError tells which stream was not where the append expected
// it. It matches [ErrVersionConflict].
type VersionConflictError struct {
	StreamID string
	// Expected is the version the append expected, or -1 when it had no
	// expectation and lost a race with a concurrent writer of the stream.
	Expected int64
	// Actual is the stream's version as seen by the failed append; -1 when
	// the conflict was detected by a concurrent writer winning the race and
	// the version is not known.
	Actual int64
}

func (e *VersionConflictError) Error() string {
	if e.Expected < 0 {
		return fmt.Sprintf("eventlog: stream version conflict: another writer appended to %q at the same time", e.StreamID)
	}
	if e.Actual < 0 {
		return fmt.Sprintf("eventlog: stream version conflict: %q expected at version %d, another writer appended first", e.StreamID, e.Expected)
	}
	return fmt.Sprintf("eventlog: stream version conflict: %q expected at version %d, is at %d", e.StreamID, e.Expected, e.Actual)
}

// ErrorCode returns [errcode.VersionConflict].
func (e *VersionConflictError) ErrorCode() errcode.Code { return errcode.VersionConflict }

// Is matches [ErrVersionConflict].
func (e *VersionConflictError) Is(target error) bool { return target == ErrVersionConflict }

// InvalidEventError tells which event of an append was rejected and why. It
// matches [ErrInvalidEvent] or [ErrEventTooLarge].
type InvalidEventError struct {
	// Index is the event's index in [AppendRequest.Events].
	Index  int
	Field  string
	Reason string
	// TooLarge is set when the event is over the size limit.
	TooLarge bool
}

func (e *InvalidEventError) Error() string {
	return fmt.Sprintf("eventlog: event %d: %s: %s", e.Index, e.Field, e.Reason)
}

// ErrorCode returns [errcode.InvalidEvent] or [errcode.EventTooLarge].
func (e *InvalidEventError) ErrorCode() errcode.Code {
	if e.TooLarge {
		return errcode.EventTooLarge
	}
	return errcode.InvalidEvent
}

// Is matches [ErrInvalidEvent] or [ErrEventTooLarge].
func (e *InvalidEventError) Is(target error) bool {
	if e.TooLarge {
		return target == ErrEventTooLarge
	}
	return target == ErrInvalidEvent
}

// IsRetryable reports whether err is a conflict that retrying the whole
// operation from a fresh read may resolve.
func IsRetryable(err error) bool { return errors.Is(err, ErrVersionConflict) }
