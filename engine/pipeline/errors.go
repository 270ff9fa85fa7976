package pipeline

import (
	"errors"
	"fmt"

	"github.com/bizevents/bizevents/engine/errcode"
)

// Error is a failure of a message with a stable code, for errors the
// pipeline itself finds (unknown message, depth).
type Error struct {
	Code    errcode.Code
	Message string
	Err     error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// ErrorCode returns the code.
func (e *Error) ErrorCode() errcode.Code { return e.Code }

func errorf(code errcode.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// StepError is a handler's failure: the message a handler gave (its
// InvalidPluginExecutionException, in Dataverse's words), with the step and
// stage it failed in. Its code is the handler's error's code when it has
// one (e.g. a nested message's invalid_value), else handler_failed.
type StepError struct {
	Step    string
	Stage   Stage
	Message string
	Code    errcode.Code
	Err     error
}

func (e *StepError) Error() string {
	where := e.Step
	if where == "" {
		where = "main operation"
	}
	return fmt.Sprintf("%s (%s, %s)", e.Message, where, e.Stage)
}

// Unwrap returns the handler's error.
func (e *StepError) Unwrap() error { return e.Err }

// ErrorCode returns the code.
func (e *StepError) ErrorCode() errcode.Code { return e.Code }

// Fail returns an error a handler returns to fail its message with a
// message for the caller, as Dataverse's InvalidPluginExecutionException.
func Fail(format string, args ...any) error {
	return &failure{msg: fmt.Sprintf(format, args...)}
}

type failure struct{ msg string }

func (f *failure) Error() string           { return f.msg }
func (f *failure) ErrorCode() errcode.Code { return errcode.HandlerFailed }

// stepError wraps a handler's error for the caller.
func stepError(step string, stage Stage, err error) error {
	var se *StepError
	if errors.As(err, &se) {
		return err // a nested message's step failed: keep the innermost
	}
	code := errcode.Of(err)
	if code == errcode.Internal {
		code = errcode.HandlerFailed
	}
	return &StepError{Step: step, Stage: stage, Message: err.Error(), Code: code, Err: err}
}
