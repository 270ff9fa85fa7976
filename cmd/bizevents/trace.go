package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/tracelog"
)

// traceCommand is `bizevents trace`: the plugin trace log.
func traceCommand() *command {
	return &command{
		name:    "trace",
		summary: "read the plugin trace log: what plugin calls wrote, by step, correlation id and time",
		subs:    []*command{traceListCommand()},
	}
}

type traceListOptions struct {
	DB     dbOptions
	Filter tracelog.Filter
	JSON   bool
}

func traceListCommand() *command {
	return &command{
		name:    "list",
		summary: "list plugin traces, oldest first",
		help: "Each plugin call that wrote a line or failed leaves a trace: its module, handler, step,\n" +
			"message, stage, mode, depth, correlation id, when it ran, its lines and how it failed.\n" +
			"The traces of a failed sync step are kept though its message rolled back.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o traceListOptions
			o.DB.register(fs, env, false)
			registerTraceFilter(fs, &o.Filter)
			fs.BoolVar(&o.JSON, "json", false, "print each trace as a JSON line")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return runTraceList(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

func registerTraceFilter(fs *flag.FlagSet, f *tracelog.Filter) {
	fs.StringVar(&f.Step, "step", "", "only the traces of the step `name`")
	fs.StringVar(&f.Module, "module", "", "only the traces of the plugin `module`")
	fs.StringVar(&f.Handler, "handler", "", "only the traces of the `handler`")
	fs.Func("correlation-id", "only the traces of the correlation `id`", func(s string) error {
		id, err := uuid.Parse(s)
		if err != nil {
			return errors.New("want a GUID")
		}
		f.CorrelationID = id
		return nil
	})
	fs.Func("since", "only calls that started at or after `time` (RFC 3339, or a duration ago like 1h)", func(s string) (err error) {
		f.Since, err = parseTraceTime(s)
		return err
	})
	fs.Func("until", "only calls that started before `time` (RFC 3339, or a duration ago)", func(s string) (err error) {
		f.Until, err = parseTraceTime(s)
		return err
	})
	fs.BoolVar(&f.FailedOnly, "failed", false, "only the calls that failed")
	fs.Var(positionValue{&f.After}, "after", "only traces with an id above `id` (the next page)")
	fs.Var(intValue{&f.Limit}, "limit", fmt.Sprintf("at most `n` traces (default %d, at most %d)", tracelog.DefaultLimit, tracelog.MaxLimit))
}

// parseTraceTime reads an RFC 3339 time, or a duration before now.
func parseTraceTime(s string) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	return parseTime(s)
}

func runTraceList(ctx context.Context, o traceListOptions, stdout, stderr io.Writer) error {
	db, err := openEngineDB(ctx, o.DB, newLogger(stderr, slog.LevelWarn))
	if err != nil {
		return err
	}
	defer db.Close()
	recs, err := tracelog.Query(ctx, db, o.Filter)
	if err != nil {
		return err
	}
	if o.JSON {
		enc := newJSONEncoder(stdout)
		for _, r := range recs {
			if err := enc.Encode(r); err != nil {
				return err
			}
		}
		return nil
	}
	for _, r := range recs {
		status := "ok"
		if r.ErrorCode != "" {
			status = "failed [" + r.ErrorCode + "]"
		}
		step := r.Step
		if step == "" {
			step = "(main operation)"
		}
		if _, err := fmt.Fprintf(stdout, "#%d %s %s/%s step %q %s stage %d %s depth %d correlation %s %s in %s\n",
			r.ID, r.Start.Format(time.RFC3339Nano), r.Module, r.Handler, step, r.Message, r.Stage, r.Mode, r.Depth,
			r.CorrelationID, status, r.Duration); err != nil {
			return err
		}
		for _, l := range r.Lines {
			fmt.Fprintf(stdout, "    %s\n", l)
		}
		if r.Dropped > 0 {
			fmt.Fprintf(stdout, "    (%d more lines dropped)\n", r.Dropped)
		}
		if r.Error != "" {
			fmt.Fprintf(stdout, "    error: %s\n", strings.ReplaceAll(r.Error, "\n", "\n    "))
		}
	}
	return nil
}

// traceFilterFromURL reads GET /api/traces's query: step, module, handler,
// correlation_id, since, until, failed, after, limit.
func traceFilterFromURL(v url.Values) (tracelog.Filter, error) {
	var f tracelog.Filter
	err := parseQuery(v, []queryParam{
		{name: "step", set: func(s string) error { f.Step = s; return nil }},
		{name: "module", set: func(s string) error { f.Module = s; return nil }},
		{name: "handler", set: func(s string) error { f.Handler = s; return nil }},
		{name: "correlation_id", set: func(s string) (err error) { f.CorrelationID, err = uuid.Parse(s); return err }},
		{name: "since", set: func(s string) (err error) { f.Since, err = parseTime(s); return err }},
		{name: "until", set: func(s string) (err error) { f.Until, err = parseTime(s); return err }},
		{name: "failed", set: func(s string) (err error) { f.FailedOnly, err = parseBool(s); return err }},
		{name: "after", set: func(s string) (err error) { f.After, err = parsePosition(s); return err }},
		{name: "limit", set: func(s string) (err error) { f.Limit, err = parseCount(s); return err }},
	})
	return f, err
}

// parseBool reads a query's true/false (or 1/0).
func parseBool(s string) (bool, error) {
	switch s {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, errors.New("want true or false")
}

func (a *logAPI) traces(w http.ResponseWriter, r *http.Request) {
	f, err := traceFilterFromURL(r.URL.Query())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	recs, err := tracelog.Query(r.Context(), a.db, f)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if recs == nil {
		recs = []tracelog.Record{}
	}
	a.writeJSON(w, r, map[string]any{"traces": recs})
}
