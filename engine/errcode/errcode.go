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
	NotFound        Code = "not_found"
	ChainBroken     Code = "chain_broken"
	Unavailable     Code = "unavailable"
	Canceled        Code = "canceled"

	// The pipeline's and the HTTP API's codes.
	InvalidValue     Code = "invalid_value"
	Duplicate        Code = "duplicate"
	HandlerFailed    Code = "handler_failed"
	DepthExceeded    Code = "depth_exceeded"
	NotSupported     Code = "not_supported"
	MethodNotAllowed Code = "method_not_allowed"
	Unauthenticated  Code = "unauthenticated"
	Forbidden        Code = "forbidden"
	RequestTooLarge  Code = "request_too_large"
	RateLimited      Code = "rate_limited"
	InvalidSolution  Code = "invalid_solution"

	// The router's and the jobs' codes.
	StateConflict Code = "state_conflict"

	// The expressions' codes (engine/expression).
	InvalidExpression Code = "invalid_expression"
	ExpressionFailed  Code = "expression_failed"
	ExpressionBudget  Code = "expression_budget_exceeded"
)

// Entry describes a code: the HTTP status it maps to and what it means.
type Entry struct {
	Code       Code
	HTTPStatus int
	Meaning    string
	// Hex is the code in Dataverse's form, "0x" and eight lower-case hex
	// digits, shown as the "code" of a Web API error so that Dataverse
	// clients can match on it. It is unique and stable like Code. Where
	// Dataverse has a code of the same meaning it is reused (0x80040217
	// object does not exist, 0x80040237 duplicate record, 0x80060882
	// concurrency version mismatch, 0x80072322 service protection limit,
	// ...); the others are in 0x80be0000-0x80beffff, a range Dataverse does
	// not use, numbered in the order they were added.
	Hex string
}

// Table lists every code. It is the single source for the API's error
// rendering and for the documentation.
var Table = []Entry{
	{Internal, 500, "an unexpected failure inside bizevents; the log says more", "0x80040216"},
	{InvalidArgument, 400, "a parameter of the request is missing, malformed or out of range", "0x80040203"},
	{InvalidEvent, 400, "an event is malformed: empty type or stream, or data that is not valid JSON", "0x80be0001"},
	{EventTooLarge, 413, "an event is larger than the configured maximum event size", "0x80be0002"},
	{VersionConflict, 409, "the stream is not at the expected version; nothing was appended", "0x80060882"},
	{UnknownPosition, 404, "the position or stream version asked for is beyond the end of the log or stream", "0x80be0003"},
	{StreamNotFound, 404, "the stream has no events", "0x80be0004"},
	{NotFound, 404, "the named thing (a solution, a subscriber, a route) does not exist", "0x80040217"},
	// Why 409 and not 500: bizevents worked as designed and found stored
	// data that contradicts its own hash chain; the request is fine, the
	// state it reads conflicts with the log's record of itself.
	{ChainBroken, 409, "the log's hash chain does not verify: a sealed event was altered, removed or reordered", "0x80be0005"},
	{Unavailable, 503, "a backing service (database, broker) cannot be reached or the component is closed", "0x80be0006"},
	{Canceled, 499, "the caller canceled the request or its deadline passed", "0x80be0007"},
	{InvalidValue, 400, "a value does not fit its column or parameter: wrong type, too long, out of range, not an option, or a required value missing; the message names it", "0x80048d19"},
	{Duplicate, 409, "a row with that id already exists", "0x80040237"},
	{HandlerFailed, 400, "a step's handler (a plugin) failed the message; its message is shown and nothing was stored", "0x80044150"},
	{DepthExceeded, 508, "handlers called back into the engine deeper than the depth limit: a loop; nothing was stored", "0x80be0008"},
	{NotSupported, 400, "the request uses a feature bizevents does not implement, e.g. an OData function outside the documented subset", "0x80be0009"},
	{MethodNotAllowed, 405, "the HTTP method does not fit the resource, e.g. POST to a function", "0x80be000a"},
	{Unauthenticated, 401, "the request has no valid credentials", "0x80be000b"},
	{Forbidden, 403, "the caller may not do this", "0x80040220"},
	{RequestTooLarge, 413, "the request body is larger than the configured limit", "0x80be000c"},
	{RateLimited, 429, "too many requests; retry after the time in Retry-After", "0x80072322"},
	{InvalidSolution, 400, "a solution's files do not validate; each problem names its file and line", "0x80be000d"},
	{StateConflict, 409, "the thing's state does not allow the change, e.g. retrying a job that succeeded, or a job another process took over", "0x80be000e"},
	{InvalidExpression, 400, "an expression does not compile: a syntax error, an unknown name or field, or a result of the wrong type; the message gives its line and column", "0x80be000f"},
	// Why 422: the expression compiled, but the values it met made it fail.
	{ExpressionFailed, 422, "an expression failed while it ran: division by zero, a missing value, a value of the wrong type where the schema left it open", "0x80be0010"},
	{ExpressionBudget, 422, "an expression used more memory, steps or time than its budget allows and was stopped", "0x80be0011"},
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
