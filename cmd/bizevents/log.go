package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/eventlog"
)

func logCommand() *command {
	return &command{
		name:    "log",
		summary: "append to, read, follow and verify the event log",
		help:    "The event log holds every message as an event, in position order, each hash-chained to the one before.",
		subs:    []*command{logAppendCommand(), logReadCommand(), logTailCommand(), logVerifyCommand(), logStreamCommand()},
	}
}

// sealWait bounds how long append waits for its event to be sealed on a
// backend that seals after commit (PostgreSQL), so that it can print the
// event's position and hash.
const sealWait = 10 * time.Second

// cliLogLevel is the level of the store's logs for the log commands: their
// stderr shows problems only.
const cliLogLevel = slog.LevelWarn

// ---- log append

// logAppendOptions are the options of `bizevents log append`.
type logAppendOptions struct {
	DB     dbOptions
	Stream string
	Type   string
	// Data is the event's JSON payload; surrounding white space is dropped.
	Data          []byte
	CorrelationID string
	// User is the user the event is recorded for, as user and initiating
	// user.
	User string
	// ExpectVersion, when set, is the version the stream must be at (0: it
	// must not exist).
	ExpectVersion *int64
}

func logAppendCommand() *command {
	return &command{
		name:    "append",
		summary: "append one event and print it as JSON",
		help: "Data is a JSON document; --data - reads it from stdin. With --expect-version the\n" +
			"append fails with version_conflict unless the stream is at that version (0: new stream).",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o logAppendOptions
			o.DB.register(fs, env, true)
			var data string
			fs.StringVar(&o.Stream, "stream", "", "`stream` id, e.g. account/42 (required)")
			fs.StringVar(&o.Type, "type", "", "event `type`, the message name, e.g. CustomerPurchase (required)")
			fs.StringVar(&data, "data", "", "event data, a `JSON` document, or - for stdin (required)")
			fs.StringVar(&o.CorrelationID, "correlation-id", "", "correlation `id` shared by the events of one business transaction")
			fs.StringVar(&o.User, "user", "", "`user` the event is recorded for")
			fs.Func("expect-version", "fail unless the stream is at this `version` (0: the stream must not exist)", func(s string) error {
				v, err := parsePosition(s)
				o.ExpectVersion = &v
				return err
			})
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				if data == "-" {
					// One byte over the limit is enough for the log to
					// reject an event that is too large.
					b, err := io.ReadAll(io.LimitReader(env.stdin, int64(o.DB.MaxEventSize)+1))
					if err != nil {
						return fmt.Errorf("read data from stdin: %w", err)
					}
					o.Data = b
				} else {
					o.Data = []byte(data)
				}
				return runLogAppend(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// runLogAppend appends one event and prints it as JSON on stdout.
func runLogAppend(ctx context.Context, o logAppendOptions, stdout, stderr io.Writer) error {
	var missing []string
	for _, f := range []struct{ name, v string }{{"--stream", o.Stream}, {"--type", o.Type}, {"--data", string(o.Data)}} {
		if f.v == "" {
			missing = append(missing, f.name)
		}
	}
	if len(missing) > 0 {
		return usagef("missing %s", strings.Join(missing, ", "))
	}
	store, err := openStore(ctx, o.DB, newLogger(stderr, cliLogLevel))
	if err != nil {
		return err
	}
	defer store.Close()
	req := eventlog.AppendRequest{Events: []eventlog.NewEvent{{
		StreamID: o.Stream,
		Type:     o.Type,
		Data:     bytes.TrimSpace(o.Data),
		Metadata: eventlog.Metadata{
			UserID:           o.User,
			InitiatingUserID: o.User,
			CorrelationID:    o.CorrelationID,
			Depth:            1,
		},
	}}}
	if o.ExpectVersion != nil {
		req.Expect = map[string]int64{o.Stream: *o.ExpectVersion}
	}
	evs, err := store.Append(ctx, req)
	if err != nil {
		return err
	}
	ev := evs[0]
	if ev.Position == 0 {
		sealed, err := waitSealed(ctx, store, ev)
		if err != nil {
			return err
		}
		if sealed.Position == 0 {
			fmt.Fprintf(stderr, "note: the event is committed but not sealed yet; the next bizevents process on this database seals it\n")
		}
		ev = sealed
	}
	return newJSONEncoder(stdout).Encode(toEventJSON(&ev))
}

// waitSealed waits, at most sealWait, for ev to be sealed, and returns it as
// stored then: with its position and hash, or still unsealed.
func waitSealed(ctx context.Context, s eventlog.Store, ev eventlog.Event) (eventlog.Event, error) {
	ctx, cancel := context.WithTimeout(ctx, sealWait)
	defer cancel()
	for {
		// The head is read before the stream: a seal in between makes
		// Wait return at once.
		head, err := s.Head(ctx)
		if err != nil {
			return ev, ignoreDone(ctx, err)
		}
		evs, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: ev.StreamID, FromVersion: ev.StreamVersion, Limit: 1})
		if err != nil {
			return ev, ignoreDone(ctx, err)
		}
		if len(evs) == 1 && evs[0].Position > 0 {
			return evs[0], nil
		}
		if err := s.Wait(ctx, head.Position); err != nil {
			return ev, ignoreDone(ctx, err)
		}
	}
}

// ignoreDone returns nil when ctx is done, err otherwise: waiting for a
// seal is best effort.
func ignoreDone(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// ---- log read

// logReadOptions are the options of `bizevents log read`.
type logReadOptions struct {
	DB            dbOptions
	After         int64
	Limit         int
	StreamID      string
	Types         []string
	Since, Until  time.Time
	CorrelationID string
	JSON          bool
}

func logReadCommand() *command {
	return &command{
		name:    "read",
		summary: "print sealed events in position order, filtered",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o logReadOptions
			o.DB.register(fs, env, false)
			fs.Var(positionValue{&o.After}, "after", "read after this `position` (0: from the start)")
			fs.Var(intValue{&o.Limit}, "limit", fmt.Sprintf("at most this many `events` (0: %d)", eventlog.DefaultReadLimit))
			fs.StringVar(&o.StreamID, "stream", "", "only events of this `stream`")
			fs.Var(listValue{&o.Types}, "type", "only events of these `types` (repeatable, or a comma separated list)")
			fs.Var(timeValue{&o.Since}, "since", "only events recorded at or after this `time` (RFC 3339 or a date)")
			fs.Var(timeValue{&o.Until}, "until", "only events recorded before this `time` (RFC 3339 or a date)")
			fs.StringVar(&o.CorrelationID, "correlation-id", "", "only events with this correlation `id`")
			fs.BoolVar(&o.JSON, "json", false, "print JSON lines instead of a table")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return runLogRead(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// runLogRead prints one page of sealed events; stderr tells how to read the
// next page when there may be one.
func runLogRead(ctx context.Context, o logReadOptions, stdout, stderr io.Writer) error {
	if !o.Since.IsZero() && !o.Until.IsZero() && !o.Until.After(o.Since) {
		return usagef("--until %s is not after --since %s", o.Until.Format(time.RFC3339Nano), o.Since.Format(time.RFC3339Nano))
	}
	store, err := openStore(ctx, o.DB, newLogger(stderr, cliLogLevel))
	if err != nil {
		return err
	}
	defer store.Close()
	evs, err := store.Read(ctx, eventlog.ReadQuery{
		After: o.After, Limit: o.Limit, StreamID: o.StreamID, Types: o.Types,
		Since: o.Since, Until: o.Until, CorrelationID: o.CorrelationID,
	})
	if err != nil {
		return err
	}
	p := newEventPrinter(stdout, o.JSON)
	if err := p.print(evs); err != nil {
		return err
	}
	limit := o.Limit
	if limit == 0 {
		limit = eventlog.DefaultReadLimit
	}
	switch {
	case len(evs) == 0 && !o.JSON:
		fmt.Fprintf(stderr, "no matching events after position %d\n", o.After)
	case len(evs) == limit:
		fmt.Fprintf(stderr, "more events may follow: add --after %d\n", evs[len(evs)-1].Position)
	}
	return nil
}

// ---- log tail

// logTailOptions are the options of `bizevents log tail`.
type logTailOptions struct {
	DB dbOptions
	// From is the position to start after; nil: the head when the tail
	// starts. A subscriber's stored offset takes precedence.
	From *int64
	// Subscriber, when set, names a durable offset: the tail resumes after
	// it and stores it after each printed batch.
	Subscriber string
	JSON       bool

	// offsetStored, when set, is called after each stored offset (tests).
	offsetStored func(position int64)
}

func logTailCommand() *command {
	return &command{
		name:    "tail",
		summary: "follow the log, printing events as they are sealed, until interrupted",
		help: "With --subscriber the position is stored after each printed batch, and the next\n" +
			"tail with that name resumes after it (delivery is at least once).",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o logTailOptions
			o.DB.register(fs, env, false)
			fs.Func("from", "start after this `position` (default: the current head)", func(s string) error {
				v, err := parsePosition(s)
				o.From = &v
				return err
			})
			fs.StringVar(&o.Subscriber, "subscriber", "", "durable subscriber `name`: resume where it stopped")
			fs.BoolVar(&o.JSON, "json", false, "print JSON lines instead of a table")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return runLogTail(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// runLogTail prints events as they are sealed until ctx is done, then
// returns nil.
func runLogTail(ctx context.Context, o logTailOptions, stdout, stderr io.Writer) error {
	logger := newLogger(stderr, cliLogLevel)
	store, err := openStore(ctx, o.DB, logger)
	if err != nil {
		return err
	}
	defer store.Close()

	cfg := eventlog.FollowConfig{Subscriber: o.Subscriber}
	if o.From != nil {
		cfg.From = *o.From
	} else {
		head, err := store.Head(ctx)
		if err != nil {
			return ignoreDone(ctx, err)
		}
		cfg.From = head.Position
	}
	start := fmt.Sprintf("after position %d", cfg.From)
	if o.Subscriber != "" {
		pos, ok, err := store.Offset(ctx, o.Subscriber)
		if err != nil {
			return ignoreDone(ctx, err)
		}
		if ok {
			start = fmt.Sprintf("after position %d, where subscriber %q stopped", pos, o.Subscriber)
		}
	}
	fmt.Fprintf(stderr, "following %s %s; Ctrl-C stops\n", o.DB.describe(), start)

	var s eventlog.Store = store
	if o.offsetStored != nil {
		s = &offsetHook{Store: store, stored: o.offsetStored}
	}
	p := newEventPrinter(stdout, o.JSON)
	err = eventlog.Follow(ctx, s, cfg, func(_ context.Context, evs []eventlog.Event) error {
		return p.print(evs)
	})
	return ignoreDone(ctx, err)
}

// offsetHook reports each offset stored through it.
type offsetHook struct {
	eventlog.Store
	stored func(int64)
}

func (h *offsetHook) SetOffset(ctx context.Context, subscriber string, position int64) error {
	if err := h.Store.SetOffset(ctx, subscriber, position); err != nil {
		return err
	}
	h.stored(position)
	return nil
}

// ---- log verify

// logVerifyOptions are the options of `bizevents log verify`.
type logVerifyOptions struct {
	DB dbOptions
	// From and To bound the positions checked, inclusive; 0: the start and
	// the sealed head.
	From, To int64
	JSON     bool
}

func logVerifyCommand() *command {
	return &command{
		name:    "verify",
		summary: "recompute the hash chain and report the first broken link",
		help: "Exits with status 1 when an event was altered, removed or reordered after it was\n" +
			"sealed. The head hash is a digest of the whole sealed log, for an outside notary.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o logVerifyOptions
			o.DB.register(fs, env, false)
			fs.Var(positionValue{&o.From}, "from", "first `position` to check (0: the start)")
			fs.Var(positionValue{&o.To}, "to", "last `position` to check (0: the sealed head)")
			fs.BoolVar(&o.JSON, "json", false, "print the report as JSON")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return runLogVerify(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// verifyJSON is the JSON shape of a verification report.
type verifyJSON struct {
	From    int64      `json:"from"`
	To      int64      `json:"to"`
	Checked int64      `json:"checked"`
	OK      bool       `json:"ok"`
	Head    headJSON   `json:"head"`
	Broken  *breakJSON `json:"broken"`
}

type breakJSON struct {
	Position int64  `json:"position"`
	EventID  string `json:"event_id,omitempty"`
	Reason   string `json:"reason"`
}

// runLogVerify verifies the chain and prints the report; a broken chain is
// a *failure.
func runLogVerify(ctx context.Context, o logVerifyOptions, stdout, stderr io.Writer) error {
	if o.To > 0 && o.From > o.To {
		return usagef("--from %d is after --to %d", o.From, o.To)
	}
	store, err := openStore(ctx, o.DB, newLogger(stderr, cliLogLevel))
	if err != nil {
		return err
	}
	defer store.Close()
	rep, err := eventlog.Verify(ctx, store, o.From, o.To)
	if err != nil {
		return err
	}
	if o.JSON {
		v := verifyJSON{From: rep.From, To: rep.To, Checked: rep.Checked, OK: rep.OK(), Head: toHeadJSON(rep.Head)}
		if b := rep.Broken; b != nil {
			v.Broken = &breakJSON{Position: b.Position, Reason: b.Reason}
			if b.EventID != uuid.Nil {
				v.Broken.EventID = b.EventID.String()
			}
		}
		if err := newJSONEncoder(stdout).Encode(v); err != nil {
			return err
		}
	} else {
		var buf bytes.Buffer
		switch {
		case rep.Broken != nil:
			fmt.Fprintf(&buf, "checked positions %d..%d: BROKEN at %s\n", rep.From, rep.To, rep.Broken)
			fmt.Fprintf(&buf, "intact before it: %d events\n", rep.Checked)
		case rep.From > rep.To:
			fmt.Fprintf(&buf, "nothing to check: the sealed log ends at position %d\n", rep.Head.Position)
		default:
			fmt.Fprintf(&buf, "checked positions %d..%d: %d events, chain intact\n", rep.From, rep.To, rep.Checked)
		}
		fmt.Fprintf(&buf, "head: position %d, hash %s\n", rep.Head.Position, hexOrNone(rep.Head.Hash))
		fmt.Fprintf(&buf, "unsealed tail: %d events (not covered until sealed)\n", rep.Head.Unsealed)
		if _, err := stdout.Write(buf.Bytes()); err != nil {
			return err
		}
	}
	if rep.Broken != nil {
		return &failure{msg: "hash chain broken at " + rep.Broken.String()}
	}
	return nil
}

func hexOrNone(b []byte) string {
	if len(b) == 0 {
		return "(none)"
	}
	return hex.EncodeToString(b)
}

// ---- log stream

// logStreamOptions are the options of `bizevents log stream`.
type logStreamOptions struct {
	DB          dbOptions
	StreamID    string
	FromVersion int64
	Limit       int
	JSON        bool
}

func logStreamCommand() *command {
	return &command{
		name:    "stream",
		args:    "STREAMID",
		summary: "print a stream's events in version order, sealed or not",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o logStreamOptions
			o.DB.register(fs, env, false)
			fs.Var(positionValue{&o.FromVersion}, "from-version", "first `version` to print (0 or 1: the start)")
			fs.Var(intValue{&o.Limit}, "limit", fmt.Sprintf("at most this many `events` (0: %d)", eventlog.DefaultReadLimit))
			fs.BoolVar(&o.JSON, "json", false, "print JSON lines instead of a table")
			return func(ctx context.Context, args []string) error {
				switch len(args) {
				case 0:
					return usagef("missing STREAMID")
				case 1:
				default:
					return usagef("one STREAMID expected, got %d arguments", len(args))
				}
				o.StreamID = args[0]
				return runLogStream(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// runLogStream prints a stream's committed events.
func runLogStream(ctx context.Context, o logStreamOptions, stdout, stderr io.Writer) error {
	if o.StreamID == "" {
		return usagef("missing STREAMID")
	}
	store, err := openStore(ctx, o.DB, newLogger(stderr, cliLogLevel))
	if err != nil {
		return err
	}
	defer store.Close()
	evs, err := store.ReadStream(ctx, eventlog.StreamQuery{StreamID: o.StreamID, FromVersion: o.FromVersion, Limit: o.Limit})
	if err != nil {
		return err
	}
	if err := newEventPrinter(stdout, o.JSON).print(evs); err != nil {
		return err
	}
	limit := o.Limit
	if limit == 0 {
		limit = eventlog.DefaultReadLimit
	}
	if len(evs) == limit {
		fmt.Fprintf(stderr, "more events may follow: add --from-version %d\n", evs[len(evs)-1].StreamVersion+1)
	}
	return nil
}

// ---- output

// eventPrinter prints events as JSON lines or as a table.
type eventPrinter struct {
	w    io.Writer
	json bool
	// widths of the table's columns so far: they only grow, so that the
	// batches of a tail stay aligned.
	widths []int
}

func newEventPrinter(w io.Writer, asJSON bool) *eventPrinter {
	return &eventPrinter{w: w, json: asJSON}
}

// dataWidth is how many characters of an event's data the table shows.
const dataWidth = 60

var tableHeader = []string{"POSITION", "TIME", "STREAM@VERSION", "TYPE", "CORRELATION", "DATA"}

// print prints evs with one write.
func (p *eventPrinter) print(evs []eventlog.Event) error {
	if len(evs) == 0 {
		return nil
	}
	var buf bytes.Buffer
	if p.json {
		enc := newJSONEncoder(&buf)
		for i := range evs {
			if err := enc.Encode(toEventJSON(&evs[i])); err != nil {
				return err
			}
		}
		_, err := p.w.Write(buf.Bytes())
		return err
	}
	rows := make([][]string, 0, len(evs)+1)
	if p.widths == nil {
		rows = append(rows, tableHeader)
	}
	for i := range evs {
		e := &evs[i]
		pos := "-" // committed, not sealed yet
		if e.Position > 0 {
			pos = strconv.FormatInt(e.Position, 10)
		}
		corr := e.Metadata.CorrelationID
		if corr == "" {
			corr = "-"
		}
		rows = append(rows, []string{pos, e.Metadata.Time.UTC().Format("2006-01-02T15:04:05.000Z"),
			e.StreamID + "@" + strconv.FormatInt(e.StreamVersion, 10), e.Type, corr,
			truncate(compactJSON(e.Data), dataWidth)})
	}
	if p.widths == nil {
		p.widths = make([]int, len(tableHeader))
	}
	for _, row := range rows {
		for c, cell := range row {
			p.widths[c] = max(p.widths[c], utf8.RuneCountInString(cell))
		}
	}
	for _, row := range rows {
		for c, cell := range row {
			if c == len(row)-1 {
				buf.WriteString(cell)
				break
			}
			buf.WriteString(cell)
			buf.WriteString(strings.Repeat(" ", p.widths[c]-utf8.RuneCountInString(cell)+2))
		}
		buf.WriteByte('\n')
	}
	_, err := p.w.Write(buf.Bytes())
	return err
}

// compactJSON returns data on one line.
func compactJSON(data []byte) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return strings.Join(strings.Fields(string(data)), " ")
	}
	return buf.String()
}

// truncate cuts s to n characters, marking the cut with an ellipsis.
func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
