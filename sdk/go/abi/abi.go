// Package abi is the bizevents plugin ABI, version 1, as names and numbers:
// the one definition that the host (package plugins) and the Go SDK share.
// sdk/ABI.md is its prose; the two must agree.
//
// It imports nothing, so that it compiles for any GOOS, the guest's wasip1
// as well as the host's.
package abi

import "strconv"

// Version is the ABI version this package describes.
const Version = 1

// ImportModule is the module name a plugin imports the host functions from.
// The version is part of the name, so that a module built for another
// version fails to link instead of misbehaving.
const ImportModule = "bizevents_v1"

// The host functions of [ImportModule]. Parameters and results are i32.
const (
	// FuncGet is get(key_ptr, key_len, buf_ptr, buf_len) -> len | errno:
	// the JSON value at a key path of the execution context, made pending,
	// and copied into buf when its length is at most buf_len (so a small
	// value takes one host call; a larger one is read with result_read).
	FuncGet = "get"
	// FuncResultRead is result_read(ptr, len) -> len | errno: copies the
	// pending result into guest memory when it fits in len bytes, and
	// returns its length either way (so result_read(0, 0) asks the length).
	FuncResultRead = "result_read"
	// FuncSet is set(key_ptr, key_len, val_ptr, val_len) -> 0 | errno.
	FuncSet = "set"
	// FuncExecute is execute(req_ptr, req_len) -> len | errno: runs a
	// message through the engine; the response or the error is pending.
	FuncExecute = "execute"
	// FuncTrace is trace(ptr, len): writes a trace line.
	FuncTrace = "trace"
	// FuncFail is fail(ptr, len): the message the caller sees when the
	// handler then returns [HandleFailed].
	FuncFail = "fail"
)

// The exports a plugin module must have.
const (
	// ExportMemory is the guest's linear memory.
	ExportMemory = "memory"
	// ExportInitialize initializes a reactor module (Go's c-shared, a
	// wasi-libc reactor, a Rust cdylib); the host runs it once per
	// instance when it is exported.
	ExportInitialize = "_initialize"
	// ExportHandle is bizevents_handle() -> i32: runs the handler that
	// get("handler") names and returns a Handle* result.
	ExportHandle = "bizevents_handle"
	// ExportMarker is a no-op function whose presence says the module was
	// built for this version of the ABI. The host never calls it.
	ExportMarker = "bizevents_abi_v1"
	// MarkerPrefix starts the marker of every ABI version, so that the
	// host can name the version of a module it refuses.
	MarkerPrefix = "bizevents_abi_v"
)

// Results of bizevents_handle. Any other value is an ABI violation.
const (
	// HandleOK: the handler succeeded.
	HandleOK int32 = 0
	// HandleFailed: the handler failed; the message is the last fail()
	// of the call, or, when it called none, the last failed execute's
	// error is passed on with its code.
	HandleFailed int32 = 1
)

// Keys of the execution context that are not paths into a map. The key
// paths are documented in sdk/ABI.md.
const (
	KeyHandler          = "handler"
	KeyMessage          = "message"
	KeyTable            = "table"
	KeyID               = "id"
	KeyStage            = "stage"
	KeyMode             = "mode"
	KeyDepth            = "depth"
	KeyUserID           = "user_id"
	KeyInitiatingUserID = "initiating_user_id"
	KeyCorrelationID    = "correlation_id"
	KeyRequestID        = "request_id"
	KeyOperationTime    = "operation_time"
	KeyStep             = "step"
	KeyConfig           = "config"
	KeySecureConfig     = "secure_config"
	KeyInput            = "input"
	KeyTarget           = "target"
	KeyOutput           = "output"
	KeyShared           = "shared"
	KeyPreImage         = "pre_image"
	KeyPostImage        = "post_image"
	KeyContext          = "context"
)

// Errno is a host function's error: a negative i32. Zero and positive
// results are not errors.
type Errno int32

// The error numbers. They never change meaning; new ones get new numbers.
const (
	// ErrNotFound: the key names nothing in this context (no such
	// parameter, column, image or variable).
	ErrNotFound Errno = -1
	// ErrInvalidKey: the key is malformed or names no part of the context.
	ErrInvalidKey Errno = -2
	// ErrInvalidValue: a value or request is not valid JSON or has the
	// wrong shape.
	ErrInvalidValue Errno = -3
	// ErrNotAllowed: the key is valid but cannot be written now (the
	// Target after PreOperation, a read-only key), or execute has no
	// engine to run on (an async step without a service).
	ErrNotAllowed Errno = -4
	// ErrOutOfBounds: a pointer and length lie outside guest memory.
	ErrOutOfBounds Errno = -5
	// ErrTooLarge: a value, request or result is larger than the host's
	// limit.
	ErrTooLarge Errno = -6
	// ErrNoResult: result_read with no pending result.
	ErrNoResult Errno = -7
	// ErrFailed: execute ran the message and it failed; the pending result
	// is {"code": ..., "message": ...}, the code from the engine's table.
	ErrFailed Errno = -8
)

// Errnos lists every error number, for tables and tests.
var Errnos = []Errno{ErrNotFound, ErrInvalidKey, ErrInvalidValue, ErrNotAllowed, ErrOutOfBounds, ErrTooLarge, ErrNoResult, ErrFailed}

// Name returns the errno's name as sdk/ABI.md writes it, e.g. "NOT_FOUND".
func (e Errno) Name() string {
	switch e {
	case ErrNotFound:
		return "NOT_FOUND"
	case ErrInvalidKey:
		return "INVALID_KEY"
	case ErrInvalidValue:
		return "INVALID_VALUE"
	case ErrNotAllowed:
		return "NOT_ALLOWED"
	case ErrOutOfBounds:
		return "OUT_OF_BOUNDS"
	case ErrTooLarge:
		return "TOO_LARGE"
	case ErrNoResult:
		return "NO_RESULT"
	case ErrFailed:
		return "FAILED"
	}
	return "ERRNO_" + strconv.Itoa(int(e))
}

// Code returns the stable error code a guest SDK reports the errno with.
// Where the engine's error table has a code of the same meaning it is
// that code (not_found, invalid_argument, invalid_value, forbidden).
func (e Errno) Code() string {
	switch e {
	case ErrNotFound:
		return "not_found"
	case ErrInvalidKey:
		return "invalid_argument"
	case ErrInvalidValue:
		return "invalid_value"
	case ErrNotAllowed:
		return "forbidden"
	case ErrOutOfBounds:
		return "out_of_bounds"
	case ErrTooLarge:
		return "too_large"
	case ErrNoResult:
		return "no_result"
	case ErrFailed:
		return "failed"
	}
	return "abi_error"
}

func (e Errno) Error() string {
	return "bizevents ABI error " + strconv.Itoa(int(e)) + " " + e.Name()
}
