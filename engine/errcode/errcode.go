// Package errcode is the one table of stable error codes that bizevents shows
// to users: over HTTP, on the command line and to plugins.
//
// A code names a kind of failure and never changes once released; the message
// next to it may be reworded freely. Packages attach a code to their errors by
// implementing [Coder]; [Of] finds it through any amount of wrapping.
package errcode

import (
	"context"
	"errors"
)

// Code is a stable, machine-readable error code such as "version_conflict".
type Code string

// The codes. Each entry in [Table] documents one.
const (
	Internal        Code = "internal"
	InvalidArgument Code = "invalid_argument"
	InvalidEvent    Code = "invalid_event"
	EventTooLarge   Code = "event_too_large"
	VersionConflict Code = "version_conflict"
	UnknownPosition Code = "unknown_position"
	StreamNotFound  Code = "stream_not_found"
	Unavailable     Code = "unavailable"
	Canceled        Code = "canceled"
)

// Entry describes a code: the HTTP status it maps to and what it means.
type Entry struct {
	Code       Code
	HTTPStatus int
	Meaning    string
}

// Table lists every code. It is the single source for the API's error
// rendering and for the documentation.
var Table = []Entry{
	{Internal, 500, "an unexpected failure inside bizevents; the log says more"},
	{InvalidArgument, 400, "a parameter of the request is missing, malformed or out of range"},
	{InvalidEvent, 400, "an event is malformed: empty type or stream, or data that is not valid JSON"},
	{EventTooLarge, 413, "an event is larger than the configured maximum event size"},
	{VersionConflict, 409, "the stream is not at the expected version; nothing was appended"},
	{UnknownPosition, 404, "the position or stream version asked for is beyond the end of the log or stream"},
	{StreamNotFound, 404, "the stream has no events"},
	{Unavailable, 503, "a backing service (database, broker) cannot be reached or the component is closed"},
	{Canceled, 499, "the caller canceled the request or its deadline passed"},
}

// Coder is implemented by errors that carry a stable code.
type Coder interface {
	ErrorCode() Code
}

// Of returns the code of the first error in err's chain that has one,
// Canceled for a context's cancellation or deadline, and Internal otherwise. Of(nil) is "".
func Of(err error) Code {
	if err == nil {
		return ""
	}
	var c Coder
	if errors.As(err, &c) {
		return c.ErrorCode()
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Canceled
	}
	return Internal
}

// Lookup returns the table entry for a code, and false for an unknown one.
func Lookup(c Code) (Entry, bool) {
	for _, e := range Table {
		if e.Code == c {
			return e, true
		}
	}
	return Entry{}, false
}
