package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/sqlite"
)

func TestLogAppend(t *testing.T) {
	t.Parallel()
	b := setup(t)

	e := b.append(t, "account/1", "Create", `{"name": "Contoso"}`, func(o *logAppendOptions) {
		o.CorrelationID, o.User = "corr-1", "alice"
	})
	require.Equal(t, ptr[int64](1), e.Position)
	require.Equal(t, "account/1", e.StreamID)
	require.EqualValues(t, 1, e.StreamVersion)
	require.Equal(t, "Create", e.Type)
	require.JSONEq(t, `{"name":"Contoso"}`, string(e.Data))
	require.Equal(t, "corr-1", e.Metadata.CorrelationID)
	require.Equal(t, "alice", e.Metadata.UserID)
	require.Equal(t, "alice", e.Metadata.InitiatingUserID)
	require.Equal(t, 1, e.Metadata.Depth)
	require.WithinDuration(t, time.Now(), e.Metadata.Time, time.Minute)
	require.NotNil(t, e.Hash)
	require.Len(t, *e.Hash, 64)

	t.Run("DataFromStdin", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := b.cli(t, "{\n  \"amount\": 12.5\n}\n",
			"log", "append", "--stream", "account/2", "--type", "CustomerPurchase", "--data", "-")
		require.Equal(t, exitOK, code, errOut)
		evs := parseJSONLines(t, out)
		require.Len(t, evs, 1)
		require.Equal(t, `{"amount":12.5}`, string(evs[0].Data), "printed compact, on one line")
	})

	t.Run("VersionConflict", func(t *testing.T) {
		t.Parallel()
		code, _, errOut := b.cli(t, "", "log", "append", "--stream", "account/1", "--type", "Update",
			"--data", "{}", "--expect-version", "0")
		require.Equal(t, exitFailure, code)
		require.Contains(t, errOut, "error [version_conflict]: ")
	})

	t.Run("InvalidData", func(t *testing.T) {
		t.Parallel()
		code, _, errOut := b.cli(t, "", "log", "append", "--stream", "s", "--type", "T", "--data", "{nope")
		require.Equal(t, exitFailure, code)
		require.Contains(t, errOut, "error [invalid_event]: ")
	})

	t.Run("TooLarge", func(t *testing.T) {
		t.Parallel()
		code, _, errOut := b.cli(t, `{"x":"`+strings.Repeat("a", 100)+`"}`,
			"log", "append", "--stream", "s", "--type", "T", "--data", "-", "--max-event-size", "64")
		require.Equal(t, exitFailure, code)
		require.Contains(t, errOut, "error [event_too_large]: ")
	})

	t.Run("Missing", func(t *testing.T) {
		t.Parallel()
		code, _, errOut := b.cli(t, "", "log", "append", "--stream", "s")
		require.Equal(t, exitUsage, code)
		require.Contains(t, errOut, "missing --type, --data")
		require.Contains(t, errOut, "bizevents log append --help")
	})
}

// seed appends a known set of events and returns them.
func seed(t *testing.T, b *bundle) []eventJSON {
	t.Helper()
	corr := func(c string) func(*logAppendOptions) {
		return func(o *logAppendOptions) { o.CorrelationID = c }
	}
	return []eventJSON{
		b.append(t, "account/1", "Create", `{"n":1}`, corr("c1")),
		b.append(t, "account/2", "Create", `{"n":2}`, corr("c2")),
		b.append(t, "account/1", "Update", `{"n":3}`, corr("c1")),
		b.append(t, "order/9", "CustomerPurchase", `{"n":4,"text":"`+strings.Repeat("x", 100)+`"}`, corr("c3")),
		b.append(t, "account/1", "Delete", `{"n":5}`),
	}
}

func TestLogRead(t *testing.T) {
	t.Parallel()
	b := setup(t)
	all := seed(t, b)
	t0 := all[0].Metadata.Time

	read := func(t *testing.T, o logReadOptions) []int64 {
		t.Helper()
		o.DB, o.JSON = b.db, true
		var out, errOut bytes.Buffer
		require.NoError(t, runLogRead(b.ctx, o, &out, &errOut), errOut.String())
		return positions(parseJSONLines(t, out.String()))
	}
	for _, tt := range []struct {
		name string
		o    logReadOptions
		want []int64
	}{
		{"All", logReadOptions{}, []int64{1, 2, 3, 4, 5}},
		{"After", logReadOptions{After: 3}, []int64{4, 5}},
		{"Limit", logReadOptions{After: 1, Limit: 2}, []int64{2, 3}},
		{"Stream", logReadOptions{StreamID: "account/1"}, []int64{1, 3, 5}},
		{"Types", logReadOptions{Types: []string{"Create", "Delete"}}, []int64{1, 2, 5}},
		{"Correlation", logReadOptions{CorrelationID: "c1"}, []int64{1, 3}},
		{"Since", logReadOptions{Since: t0}, []int64{1, 2, 3, 4, 5}},
		{"SinceFuture", logReadOptions{Since: time.Now().Add(time.Hour)}, []int64{}},
		{"Until", logReadOptions{Until: t0}, []int64{}},
		{"Combined", logReadOptions{StreamID: "account/1", Types: []string{"Update", "Delete"}, After: 3}, []int64{5}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, read(t, tt.o))
		})
	}

	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := b.cli(t, "", "log", "read", "--json", "--type", "Create,Update", "--type", "CustomerPurchase")
		require.Equal(t, exitOK, code, errOut)
		evs := parseJSONLines(t, out)
		require.Equal(t, []int64{1, 2, 3, 4}, positions(evs))
		require.Equal(t, all[:4], evs, "read prints events as append did")
		// data is JSON, not a string holding JSON.
		var raw map[string]json.RawMessage
		require.NoError(t, json.Unmarshal([]byte(strings.SplitN(out, "\n", 2)[0]), &raw))
		require.Equal(t, `{"n":1}`, string(raw["data"]))
	})

	t.Run("Table", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := b.cli(t, "", "log", "read", "--after", "2", "--limit", "2")
		require.Equal(t, exitOK, code, errOut)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 3)
		require.Regexp(t, `^POSITION\s+TIME\s+STREAM@VERSION\s+TYPE\s+CORRELATION\s+DATA$`, lines[0])
		require.Regexp(t, `^3\s+\S+Z\s+account/1@2\s+Update\s+c1\s+\{"n":3\}$`, lines[1])
		require.Regexp(t, `^4\s+\S+Z\s+order/9@1\s+CustomerPurchase\s+c3\s+\{"n":4,"text":"x+…$`, lines[2])
		require.Less(t, len([]rune(lines[2][strings.Index(lines[2], `{"n":4`):])), 61, "data truncated")
		require.Contains(t, errOut, "more events may follow: add --after 4")
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := b.cli(t, "", "log", "read", "--after", "5")
		require.Equal(t, exitOK, code, errOut)
		require.Empty(t, out)
		require.Contains(t, errOut, "no matching events after position 5")
	})

	t.Run("BeyondHead", func(t *testing.T) {
		t.Parallel()
		code, _, errOut := b.cli(t, "", "log", "read", "--after", "99")
		require.Equal(t, exitFailure, code)
		require.Contains(t, errOut, "error [unknown_position]: ")
	})
}

func TestLogStream(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seed(t, b)

	// Flags after the stream id work too.
	code, out, errOut := b.cli(t, "", "log", "stream", "account/1", "--from-version", "2", "--json")
	require.Equal(t, exitOK, code, errOut)
	evs := parseJSONLines(t, out)
	require.Equal(t, []int64{3, 5}, positions(evs))
	require.EqualValues(t, 2, evs[0].StreamVersion)
	require.EqualValues(t, 3, evs[1].StreamVersion)

	code, out, errOut = b.cli(t, "", "log", "stream", "--limit", "1", "account/1")
	require.Equal(t, exitOK, code, errOut)
	require.Regexp(t, `\n1\s+\S+\s+account/1@1\s+Create`, out)
	require.Contains(t, errOut, "add --from-version 2")

	code, _, errOut = b.cli(t, "", "log", "stream", "nope/1")
	require.Equal(t, exitFailure, code)
	require.Contains(t, errOut, "error [stream_not_found]: ")

	code, _, errOut = b.cli(t, "", "log", "stream")
	require.Equal(t, exitUsage, code)
	require.Contains(t, errOut, "missing STREAMID")

	code, _, _ = b.cli(t, "", "log", "stream", "a", "b")
	require.Equal(t, exitUsage, code)
}

func TestLogVerify(t *testing.T) {
	t.Parallel()

	t.Run("Intact", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		seed(t, b)
		code, out, errOut := b.cli(t, "", "log", "verify")
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, "checked positions 1..5: 5 events, chain intact")
		require.Regexp(t, `head: position 5, hash [0-9a-f]{64}\n`, out)
		require.Contains(t, out, "unsealed tail: 0 events")

		code, out, errOut = b.cli(t, "", "log", "verify", "--from", "2", "--to", "4", "--json")
		require.Equal(t, exitOK, code, errOut)
		var rep verifyJSON
		require.NoError(t, json.Unmarshal([]byte(out), &rep))
		require.Equal(t, verifyJSON{From: 2, To: 4, Checked: 3, OK: true, Head: rep.Head}, rep)
		require.EqualValues(t, 5, rep.Head.Position)
		require.Len(t, rep.Head.Hash, 64)
	})

	t.Run("Empty", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		code, out, errOut := b.cli(t, "", "log", "verify")
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, "nothing to check")
	})

	t.Run("Tampered", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		evs := seed(t, b)

		db, err := sql.Open("sqlite", b.db.DB)
		require.NoError(t, err)
		res, err := db.ExecContext(b.ctx, `UPDATE events SET data = '{"n":300}' WHERE position = 3`)
		require.NoError(t, err)
		n, err := res.RowsAffected()
		require.NoError(t, err)
		require.EqualValues(t, 1, n)
		require.NoError(t, db.Close())

		var out, errOut bytes.Buffer
		err = runLogVerify(b.ctx, logVerifyOptions{DB: b.db}, &out, &errOut)
		var f *failure
		require.ErrorAs(t, err, &f)
		require.Contains(t, out.String(), "BROKEN at position 3 (event "+evs[2].ID+")")
		require.Contains(t, out.String(), "intact before it: 2 events")

		code, stdout, stderr := b.cli(t, "", "log", "verify", "--json")
		require.Equal(t, exitFailure, code)
		require.Contains(t, stderr, "error: hash chain broken at position 3")
		var rep verifyJSON
		require.NoError(t, json.Unmarshal([]byte(stdout), &rep))
		require.False(t, rep.OK)
		require.Equal(t, &breakJSON{Position: 3, EventID: evs[2].ID, Reason: rep.Broken.Reason}, rep.Broken)

		// The range before the tampered event is intact.
		code, _, stderr = b.cli(t, "", "log", "verify", "--to", "2")
		require.Equal(t, exitOK, code, stderr)
	})

	t.Run("BadRange", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		code, _, errOut := b.cli(t, "", "log", "verify", "--from", "5", "--to", "2")
		require.Equal(t, exitUsage, code)
		require.Contains(t, errOut, "--from 5 is after --to 2")
	})
}

func TestLogTail(t *testing.T) {
	t.Parallel()

	t.Run("SubscriberResumes", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		seed(t, b)

		// tail runs until canceled once it stored the offset of the wanted
		// position, and returns what it printed.
		tail := func(o logTailOptions, upTo int64) string {
			t.Helper()
			ctx, cancel := context.WithCancel(b.ctx)
			defer cancel()
			stored := make(chan int64, 100)
			o.DB, o.Subscriber, o.JSON = b.db, "auditor", true
			o.offsetStored = func(p int64) { stored <- p }
			out, errOut := newSyncBuffer(), newSyncBuffer()
			done := make(chan error, 1)
			go func() { done <- runLogTail(ctx, o, out, errOut) }()
			for p := int64(0); p < upTo; {
				select {
				case p = <-stored:
				case err := <-done:
					t.Fatalf("tail returned early: %v; stderr:\n%s", err, errOut)
				case <-b.ctx.Done():
					t.Fatalf("no offset %d stored; stdout:\n%s\nstderr:\n%s", upTo, out, errOut)
				}
			}
			cancel()
			select {
			case err := <-done:
				require.NoError(t, err, "a canceled tail is a normal end")
			case <-b.ctx.Done():
				t.Fatal("tail did not return after cancel")
			}
			return out.String()
		}

		// First run: from the start (no stored offset yet).
		out := tail(logTailOptions{From: ptr[int64](0)}, 5)
		require.Equal(t, []int64{1, 2, 3, 4, 5}, positions(parseJSONLines(t, out)))

		b.append(t, "account/3", "Create", `{"n":6}`)
		b.append(t, "account/3", "Update", `{"n":7}`)

		// Second run: --from would say 0, the stored offset wins.
		out = tail(logTailOptions{From: ptr[int64](0)}, 7)
		require.Equal(t, []int64{6, 7}, positions(parseJSONLines(t, out)))
	})

	t.Run("FromHead", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		seed(t, b)
		ctx, cancel := context.WithCancel(b.ctx)
		defer cancel()
		out, errOut := newSyncBuffer(), newSyncBuffer()
		done := make(chan error, 1)
		go func() { done <- runLogTail(ctx, logTailOptions{DB: b.db}, out, errOut) }()
		errOut.waitFor(t, b.ctx, "the tail to start", func(s string) bool {
			return strings.Contains(s, "after position 5; Ctrl-C stops")
		})

		// Another store on the file: the tail notices at its poll interval.
		b.append(t, "late/1", "Create", `{"late":true}`)
		got := out.waitFor(t, b.ctx, "the late event", func(s string) bool { return strings.Contains(s, "late/1@1") })
		require.NotContains(t, got, "account/", "events before the head are not printed")
		require.Regexp(t, `(?m)^6\s+\S+\s+late/1@1\s+Create\s+-\s+\{"late":true\}$`, got)

		cancel()
		select {
		case err := <-done:
			require.NoError(t, err)
		case <-b.ctx.Done():
			t.Fatal("tail did not return after cancel")
		}
	})
}

func TestOpenStore(t *testing.T) {
	t.Parallel()
	b := setup(t)

	s, err := openStore(b.ctx, b.db, nil)
	require.NoError(t, err)
	require.IsType(t, &sqlite.Store{}, s)
	require.NoError(t, s.Close())

	_, err = openStore(b.ctx, dbOptions{DB: b.db.DB, Schema: "x", schemaFlag: true}, nil)
	var ue *usageError
	require.ErrorAs(t, err, &ue)

	// The environment's schema is ignored for SQLite.
	s, err = openStore(b.ctx, dbOptions{DB: b.db.DB, Schema: "x"}, nil)
	require.NoError(t, err)
	require.NoError(t, s.Close())

	require.Equal(t, "postgres postgres://u:xxxxx@h/db schema bizevents", dbOptions{DB: "postgres://u:secret@h/db"}.describe())
	require.Equal(t, "postgres postgresql://h/db schema s1", dbOptions{DB: "postgresql://h/db", Schema: "s1"}.describe())

	// Errors keep their stable code through the command's wrapping.
	_, err = s.Read(b.ctx, eventlog.ReadQuery{})
	require.True(t, errors.Is(err, eventlog.ErrClosed))
	require.Equal(t, errcode.Unavailable, errcode.Of(err))
}

func TestEventPrinter(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 1, 31, 12, 0, 0, 0, time.UTC)
	ev := func(pos int64, stream, data string) eventlog.Event {
		return eventlog.Event{Position: pos, StreamID: stream, StreamVersion: 1, Type: "T", Data: []byte(data),
			Metadata: eventlog.Metadata{Time: at}}
	}
	var out bytes.Buffer
	p := newEventPrinter(&out, false)
	require.NoError(t, p.print([]eventlog.Event{ev(1, "a/1", `{"s": "`+strings.Repeat("é", 80)+`"}`)}))
	require.NoError(t, p.print(nil))
	require.NoError(t, p.print([]eventlog.Event{ev(0, "b/1", `{}`)}))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 3, "one header")
	require.Equal(t, "POSITION  TIME                      STREAM@VERSION  TYPE  CORRELATION  DATA", lines[0])
	require.Equal(t, `1         2025-01-31T12:00:00.000Z  a/1@1           T     -            {"s":"`+strings.Repeat("é", 53)+"…", lines[1])
	require.Equal(t, `-         2025-01-31T12:00:00.000Z  b/1@1           T     -            {}`, lines[2], "later batches stay aligned")
}
