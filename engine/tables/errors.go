package tables

import (
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/storage"
)

// ValueProblem is one value that does not fit its column.
type ValueProblem struct {
	// Column is the logical name the caller gave.
	Column string
	// Reason says what is wrong, e.g. "string of 120 characters exceeds max
	// length 100".
	Reason string
}

// ValuesError reports every value of a Create or Update that does not fit
// the table, at once. Its code is errcode.InvalidValue.
type ValuesError struct {
	Table    string
	Problems []ValueProblem
}

// Error names each column and its problem:
// `table account: column "name": string of 120 characters exceeds max length 100`.
func (e *ValuesError) Error() string {
	var b strings.Builder
	if e.Table != "" {
		fmt.Fprintf(&b, "table %s: ", e.Table)
	}
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "column %q: %s", p.Column, p.Reason)
	}
	return b.String()
}

// ErrorCode is errcode.InvalidValue.
func (e *ValuesError) ErrorCode() errcode.Code { return errcode.InvalidValue }

// NotFoundError says a table has no row with the id.
type NotFoundError struct {
	Table string
	ID    uuid.UUID
}

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("%s row %s does not exist", e.Table, e.ID)
}

// ErrorCode is errcode.NotFound.
func (e *NotFoundError) ErrorCode() errcode.Code { return errcode.NotFound }

// DuplicateError says a table already has a row with the id. It matches
// storage.ErrDuplicate.
type DuplicateError struct {
	Table string
	ID    uuid.UUID
}

func (e *DuplicateError) Error() string {
	return fmt.Sprintf("%s row %s already exists", e.Table, e.ID)
}

// ErrorCode is errcode.Duplicate.
func (e *DuplicateError) ErrorCode() errcode.Code { return errcode.Duplicate }

// Unwrap lets errors.Is(err, storage.ErrDuplicate) match.
func (e *DuplicateError) Unwrap() error { return storage.ErrDuplicate }

// VersionConflictError says a row is not at the version the write expected;
// nothing was written.
type VersionConflictError struct {
	Table    string
	ID       uuid.UUID
	Expected int64
	Actual   int64
}

func (e *VersionConflictError) Error() string {
	return fmt.Sprintf("%s row %s is at version %d, not the expected %d", e.Table, e.ID, e.Actual, e.Expected)
}

// ErrorCode is errcode.VersionConflict.
func (e *VersionConflictError) ErrorCode() errcode.Code { return errcode.VersionConflict }

// QueryError reports a query that cannot run: an unknown column, a
// malformed or mistyped $filter, a bad page token (errcode.InvalidArgument),
// or syntax outside the supported OData subset (errcode.NotSupported).
type QueryError struct {
	// Code is errcode.InvalidArgument or errcode.NotSupported.
	Code errcode.Code
	// Option is the query option at fault: "$filter", "$select",
	// "$orderby", "$top", "$skiptoken", or "" for a field of a Query.
	Option string
	// Pos is the byte offset in the option's text where the problem is, or
	// -1.
	Pos int
	Msg string
}

func (e *QueryError) Error() string {
	var b strings.Builder
	if e.Option != "" {
		b.WriteString(e.Option)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	if e.Pos >= 0 {
		fmt.Fprintf(&b, " (at offset %d)", e.Pos)
	}
	return b.String()
}

// ErrorCode is the error's Code.
func (e *QueryError) ErrorCode() errcode.Code { return e.Code }

func invalidArg(option string, pos int, format string, args ...any) *QueryError {
	return &QueryError{Code: errcode.InvalidArgument, Option: option, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func notSupported(option string, pos int, format string, args ...any) *QueryError {
	return &QueryError{Code: errcode.NotSupported, Option: option, Pos: pos, Msg: fmt.Sprintf(format, args...)}
}
