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
	// ErrInvalidQuery: a read's or an offset's parameters are out of range.
	ErrInvalidQuery = &Error{Code: errcode.InvalidArgument, Message: "invalid query"}
	// ErrClosed: the store or transaction is closed. Retrying does not
	// help.
	ErrClosed = &Error{Code: errcode.Unavailable, Message: "event log closed", kind: kindClosed}
	// ErrUnavailable: the database could not be reached or dropped the
	// connection (refused, timed out, shut down). The error wraps the
	// driver's error. It may pass: [IsRetryable] says true.
	//
	// A write that failed this way may still have committed, when the
	// connection broke after the commit was sent: retry appends with an
	// expected version, or check by reading, where a duplicate matters.
	ErrUnavailable = &Error{Code: errcode.Unavailable, Message: "database unavailable", kind: kindUnreachable}
	// ErrChainBroken: the hash chain does not verify (see
	// [VerifyReport.Err]).
	ErrChainBroken = &Error{Code: errcode.ChainBroken, Message: "hash chain broken"}
)

// Kinds tell apart sentinels that share a code.
const (
	kindClosed      = "closed"
	kindUnreachable = "unreachable"
)

// Error is an event log error with a stable code. The sentinels above are
// *Error values; errors built with [Errorf] or [Wrap] match the sentinel they
// were made from.
type Error struct {
	Code    errcode.Code
	Message string
	// Err is the cause, when there is one (the driver's error behind
	// [ErrUnavailable]); errors.Is and errors.As see through to it.
	Err error
	// kind tells apart sentinels that share a code (ErrClosed and
	// ErrUnavailable); empty for the others.
	kind string
}

func (e *Error) Error() string {
	if e.Err != nil {
		return "eventlog: " + e.Message + ": " + e.Err.Error()
	}
	return "eventlog: " + e.Message
}

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the stable code.
func (e *Error) ErrorCode() errcode.Code { return e.Code }

// Is matches any *Error with the same code, so errors.Is(err,
// ErrInvalidEvent) holds for every invalid-event error whatever its message.
// The sentinels sharing a code, [ErrClosed] and [ErrUnavailable], match only
// errors made from them: a dropped connection is not a closed store.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code && (t.kind == "" || t.kind == e.kind)
}

// Errorf returns an error matching sentinel, with a more specific message.
func Errorf(sentinel *Error, format string, args ...any) error {
	return &Error{Code: sentinel.Code, Message: sentinel.Message + ": " + fmt.Sprintf(format, args...), kind: sentinel.kind}
}

// Wrap returns an error matching sentinel that wraps cause, such as
// Wrap(ErrUnavailable, err) for a driver's connection error.
func Wrap(sentinel *Error, cause error) error {
	return &Error{Code: sentinel.Code, Message: sentinel.Message, Err: cause, kind: sentinel.kind}
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

// IsRetryable reports whether retrying may succeed: err is a version
// conflict, which retrying the whole operation from a fresh read may
// resolve, or a database that could not be reached ([ErrUnavailable]), which
// may come back (retry with a back-off). A closed store ([ErrClosed]) is not
// retryable.
func IsRetryable(err error) bool {
	return errors.Is(err, ErrVersionConflict) || errors.Is(err, ErrUnavailable)
}
