package sdk

import (
	"errors"
	"fmt"

	"github.com/bizevents/bizevents/sdk/go/abi"
)

// Error is a failure with a stable code: a message the engine refused
// (the code from the engine's error table: "invalid_value",
// "depth_exceeded", "not_found", ...), or a host function's ABI error (the
// code of its abi.Errno).
type Error struct {
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

// Is makes errors.Is(err, ErrNotFound) match any *Error with the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Code == e.Code
}

// ErrNotFound matches, with errors.Is, every error about something that is
// not there: a parameter, a column, a row.
var ErrNotFound = &Error{Code: "not_found"}

// IsNotFound reports whether err is about something that is not there.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// Fail returns an error that fails the message with a message for the
// caller, as Dataverse's InvalidPluginExecutionException: the operation
// rolls back and the caller sees exactly this text with the code
// handler_failed. Any other error a handler returns fails it the same way,
// with the error's text; an *Error that the organization service returned,
// returned as is, keeps its code.
func Fail(format string, args ...any) error {
	return &failure{msg: fmt.Sprintf(format, args...)}
}

type failure struct{ msg string }

func (f *failure) Error() string { return f.msg }

// errnoError turns a host function's error number into an *Error.
func errnoError(op string, n int32) error {
	e := abi.Errno(n)
	return &Error{Code: e.Code(), Message: op + ": " + e.Error()}
}
