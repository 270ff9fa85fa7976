package tracelog

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/storage"
)

// Defaults and bounds of a [Filter].
const (
	DefaultLimit = 100
	MaxLimit     = 10_000
)

// Filter selects stored traces; zero fields select everything.
type Filter struct {
	Step, Module, Handler string
	CorrelationID         uuid.UUID
	// Since and Until bound the call's start time: Since <= start < Until.
	Since, Until time.Time
	// FailedOnly keeps the calls that failed.
	FailedOnly bool
	// After keeps records with a larger ID: the next page after the last
	// record of a page.
	After int64
	// Limit is the page size. Default [DefaultLimit], at most [MaxLimit].
	Limit int
}

// Validate reports the filter's problems, with code invalid_argument.
func (f Filter) Validate() error {
	switch {
	case f.Limit < 0 || f.Limit > MaxLimit:
		return &filterError{fmt.Sprintf("limit %d must be between 1 and %d", f.Limit, MaxLimit)}
	case f.After < 0:
		return &filterError{fmt.Sprintf("after %d must not be negative", f.After)}
	case !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since):
		return &filterError{"until must be after since"}
	}
	return nil
}

type filterError struct{ msg string }

func (e *filterError) Error() string           { return "trace filter: " + e.msg }
func (e *filterError) ErrorCode() errcode.Code { return errcode.InvalidArgument }

// Query returns the traces the filter selects, oldest first.
func Query(ctx context.Context, q storage.Querier, f Filter) ([]Record, error) {
	if err := f.Validate(); err != nil {
		return nil, err
	}
	if f.Limit == 0 {
		f.Limit = DefaultLimit
	}
	var where []string
	var args []any
	cond := func(c string, v any) { where = append(where, c); args = append(args, v) }
	cond("id > ?", f.After)
	if f.Step != "" {
		cond("step = ?", f.Step)
	}
	if f.Module != "" {
		cond("module = ?", f.Module)
	}
	if f.Handler != "" {
		cond("handler = ?", f.Handler)
	}
	if f.CorrelationID != uuid.Nil {
		cond("correlation_id = ?", f.CorrelationID.String())
	}
	if !f.Since.IsZero() {
		cond("start_time >= ?", storage.Micros(f.Since))
	}
	if !f.Until.IsZero() {
		cond("start_time < ?", storage.Micros(f.Until))
	}
	if f.FailedOnly {
		where = append(where, "error_code <> ''")
	}
	args = append(args, f.Limit)
	rows, err := q.Query(ctx, `SELECT id, module, hash, handler, step, message, table_name, stage, mode, depth,
		correlation_id, request_id, operation_time, start_time, duration_us, lines, dropped, error_code, error
		FROM plugin_traces WHERE `+strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("read plugin traces: %w", err)
	}
	defer rows.Close()
	var out []Record
	for rows.Next() {
		var r Record
		var opTime, start, dur int64
		var lines string
		if err := rows.Scan(&r.ID, &r.Module, &r.Hash, &r.Handler, &r.Step, &r.Message, &r.Table, &r.Stage, &r.Mode, &r.Depth,
			&r.CorrelationID, &r.RequestID, &opTime, &start, &dur, &lines, &r.Dropped, &r.ErrorCode, &r.Error); err != nil {
			return nil, fmt.Errorf("read plugin traces: %w", err)
		}
		if opTime != 0 {
			r.OperationTime = storage.FromMicros(opTime)
		}
		r.Start = storage.FromMicros(start)
		r.Duration = time.Duration(dur) * time.Microsecond
		if err := json.Unmarshal([]byte(lines), &r.Lines); err != nil {
			return nil, fmt.Errorf("read plugin trace %d: lines: %w", r.ID, err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}
