// Package eventlogtest is the conformance suite every event log backend
// passes: one definition of correct for eventlog.Store.
//
// A backend's test calls [Run] with a [Backend] that makes isolated logs.
// New semantics go into this suite first, then into the backends.
package eventlogtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
)

// Backend makes isolated logs for the suite.
type Backend struct {
	// NewLog creates an empty log of its own (a schema, a file), removed when
	// the test ends.
	NewLog func(t *testing.T) Log
	// OneProcess declares a backend whose log belongs to one process (the
	// embedded SQLite file): a second store opened on the same log works,
	// but is woken by the first one's appends only at its poll interval.
	OneProcess bool
}

// Log is one isolated log.
type Log interface {
	// Open returns a new store on this log, which the caller closes. It may
	// be called several times, also concurrently and from goroutines other
	// than the test's: a restart, or a second process on the same log.
	Open(ctx context.Context, cfg eventlog.Config) (eventlog.Store, error)
	// Tamper rewrites the stored data of the event at a sealed position by
	// hand, as someone with write access to the database could.
	Tamper(t *testing.T, position int64, data string)
	// Remove deletes the event at a sealed position by hand.
	Remove(t *testing.T, position int64)
}

// waitTimeout bounds every wait in the suite.
const waitTimeout = 30 * time.Second

// Run runs the suite against b. Subtests run in parallel.
func Run(t *testing.T, b Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b Backend)
	}{
		{"AppendAndRead", testAppendAndRead},
		{"ExpectedVersion", testExpectedVersion},
		{"ConflictLeavesNothing", testConflictLeavesNothing},
		{"ConcurrentExpectedVersion", testConcurrentExpectedVersion},
		{"ConcurrentAnyVersion", testConcurrentAnyVersion},
		{"Transaction", testTransaction},
		{"BadInput", testBadInput},
		{"ReadFilters", testReadFilters},
		{"ReadStream", testReadStream},
		{"ReadStreamBackward", testReadStreamBackward},
		{"EventTimes", testEventTimes},
		{"Offsets", testOffsets},
		{"FollowResumes", testFollowResumes},
		{"ManyWritersFollower", testManyWritersFollower},
		{"RestartKeepsChain", testRestartKeepsChain},
		{"CloseSeals", testCloseSeals},
		{"VerifyDetectsTampering", testVerifyDetectsTampering},
		{"ConcurrentOpen", testConcurrentOpen},
		{"Closed", testClosed},
		{"WaitWakes", testWaitWakes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, b)
		})
	}
}

func setup(t *testing.T, b Backend) (eventlog.Store, Log, context.Context) {
	t.Helper()
	l := b.NewLog(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return open(t, l, eventlog.Config{}), l, ctx
}

// open opens a store on l, closed when the test ends. Call it from the test's
// goroutine only.
func open(t *testing.T, l Log, cfg eventlog.Config) eventlog.Store {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	s, err := l.Open(ctx, cfg)
	require.NoError(t, err)
	closeAtEnd(t, s)
	return s
}

// closeAtEnd closes s when the test ends; closing an already closed store is
// fine.
func closeAtEnd(t *testing.T, s eventlog.Store) {
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

// ev builds a new event with JSON data from v.
func ev(stream, typ string, v any) eventlog.NewEvent {
	data, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return eventlog.NewEvent{StreamID: stream, Type: typ, Data: data}
}

func appendOne(t *testing.T, ctx context.Context, s eventlog.Store, e eventlog.NewEvent) eventlog.Event {
	t.Helper()
	got, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{e}})
	require.NoError(t, err)
	require.Len(t, got, 1)
	return got[0]
}

// waitSealed waits until the log's sealed head reaches n and returns it.
func waitSealed(t *testing.T, ctx context.Context, s eventlog.Store, n int64) eventlog.Head {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		h, err := s.Head(ctx)
		require.NoError(t, err)
		if h.Position >= n {
			return h
		}
		require.True(t, time.Now().Before(deadline), "sealed head stuck at %d, want %d (unsealed %d)", h.Position, n, h.Unsealed)
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		_ = s.Wait(wctx, h.Position)
		cancel()
	}
}

func readAll(t *testing.T, ctx context.Context, s eventlog.Store, q eventlog.ReadQuery) []eventlog.Event {
	t.Helper()
	var all []eventlog.Event
	for {
		evs, err := s.Read(ctx, q)
		require.NoError(t, err)
		if len(evs) == 0 {
			return all
		}
		all = append(all, evs...)
		q.After = evs[len(evs)-1].Position
	}
}

func testAppendAndRead(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)

	md := eventlog.Metadata{UserID: "u1", InitiatingUserID: "u0", CorrelationID: "c1", RequestID: "r1", CausationID: "x1", Depth: 2, Solution: "contoso"}
	one := ev("account/1", "Create", map[string]any{"name": "Fourth Coffee"})
	one.Metadata = md
	id := uuid.New()
	one.ID = id
	before := time.Now().Add(-time.Second)
	got := appendOne(t, ctx, s, one)
	require.Equal(t, id, got.ID)
	require.Equal(t, "account/1", got.StreamID)
	require.EqualValues(t, 1, got.StreamVersion)
	require.Equal(t, "Create", got.Type)
	require.JSONEq(t, `{"name":"Fourth Coffee"}`, string(got.Data))
	require.True(t, got.Metadata.Time.After(before), "recorded time %s", got.Metadata.Time)
	md.Time = got.Metadata.Time
	require.Equal(t, md, got.Metadata)

	// A batch over two streams: versions are per stream, in request order.
	raw := json.RawMessage(`{ "spaced" :  [1, 2.50, "x"] }`)
	batch, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{
		ev("account/1", "Update", map[string]any{"n": 1}),
		{StreamID: "contact/9", Type: "Create", Data: raw},
		ev("account/1", "Update", map[string]any{"n": 2}),
	}})
	require.NoError(t, err)
	require.Len(t, batch, 3)
	require.EqualValues(t, []int64{2, 1, 3}, []int64{batch[0].StreamVersion, batch[1].StreamVersion, batch[2].StreamVersion})
	for _, e := range batch {
		require.NotEqual(t, uuid.Nil, e.ID)
	}

	head := waitSealed(t, ctx, s, 4)
	require.EqualValues(t, 4, head.Position)
	require.Zero(t, head.Unsealed)

	all := readAll(t, ctx, s, eventlog.ReadQuery{})
	require.Len(t, all, 4)
	var prev []byte
	for i, e := range all {
		require.EqualValues(t, i+1, e.Position)
		require.Equal(t, eventlog.ChainHash(prev, &e), e.Hash, "hash of position %d", e.Position)
		prev = e.Hash
	}
	require.Equal(t, head.Hash, prev)
	// Data comes back byte for byte, not re-encoded.
	require.Equal(t, string(raw), string(all[2].Data))
	require.Equal(t, got.ID, all[0].ID)
	require.Equal(t, got.Metadata, all[0].Metadata)

	// Reading after the head is empty; one past it is an error.
	evs, err := s.Read(ctx, eventlog.ReadQuery{After: 4})
	require.NoError(t, err)
	require.Empty(t, evs)
	_, err = s.Read(ctx, eventlog.ReadQuery{After: 5})
	require.ErrorIs(t, err, eventlog.ErrUnknownPosition)
	require.Equal(t, errcode.UnknownPosition, errcode.Of(err))

	rep, err := eventlog.Verify(ctx, s, 0, 0)
	require.NoError(t, err)
	require.True(t, rep.OK(), "broken: %v", rep.Broken)
	require.EqualValues(t, 4, rep.Checked)
	rep, err = eventlog.Verify(ctx, s, 2, 3)
	require.NoError(t, err)
	require.True(t, rep.OK())
	require.EqualValues(t, 2, rep.Checked)
}

func testExpectedVersion(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)
	req := func(stream string, expect int64) eventlog.AppendRequest {
		return eventlog.AppendRequest{
			Events: []eventlog.NewEvent{ev(stream, "Update", map[string]any{"at": expect})},
			Expect: map[string]int64{stream: expect},
		}
	}
	_, err := s.Append(ctx, req("s", eventlog.NoStream))
	require.NoError(t, err)
	_, err = s.Append(ctx, req("s", 1))
	require.NoError(t, err)

	for _, expect := range []int64{eventlog.NoStream, 1, 3, 7} {
		_, err = s.Append(ctx, req("s", expect))
		require.ErrorIs(t, err, eventlog.ErrVersionConflict, "expect %d", expect)
		require.Equal(t, errcode.VersionConflict, errcode.Of(err))
		var vc *eventlog.VersionConflictError
		require.ErrorAs(t, err, &vc)
		require.Equal(t, "s", vc.StreamID)
		require.Equal(t, expect, vc.Expected)
		require.EqualValues(t, 2, vc.Actual)
	}
	_, err = s.Append(ctx, req("s", 2))
	require.NoError(t, err)
	evs, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "s"})
	require.NoError(t, err)
	require.Len(t, evs, 3)
}

func testConflictLeavesNothing(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)
	appendOne(t, ctx, s, ev("b", "Create", 1))

	// The first stream's expectation holds, the second's does not: neither
	// stream gets anything.
	_, err := s.Append(ctx, eventlog.AppendRequest{
		Events: []eventlog.NewEvent{ev("a", "Create", 1), ev("b", "Update", 2)},
		Expect: map[string]int64{"a": eventlog.NoStream, "b": 5},
	})
	require.ErrorIs(t, err, eventlog.ErrVersionConflict)
	_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "a"})
	require.ErrorIs(t, err, eventlog.ErrStreamNotFound)

	// In a transaction: the conflict fails the append; what the transaction
	// appended before is discarded with it on rollback.
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("c", "Create", 1)}})
	require.NoError(t, err)
	_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("b", "Update", 2)}, Expect: map[string]int64{"b": 9}})
	require.ErrorIs(t, err, eventlog.ErrVersionConflict)
	require.NoError(t, tx.Rollback(ctx))
	_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "c"})
	require.ErrorIs(t, err, eventlog.ErrStreamNotFound)

	appendOne(t, ctx, s, ev("z", "Create", 1))
	head := waitSealed(t, ctx, s, 2)
	require.EqualValues(t, 2, head.Position)
	all := readAll(t, ctx, s, eventlog.ReadQuery{})
	require.Len(t, all, 2)
	require.Equal(t, "z", all[1].StreamID)
}

func testConcurrentExpectedVersion(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)
	appendOne(t, ctx, s, ev("hot", "Create", 0))
	const writers = 8
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		ok, clash int
	)
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Append(ctx, eventlog.AppendRequest{
				Events: []eventlog.NewEvent{ev("hot", "Update", i)},
				Expect: map[string]int64{"hot": 1},
			})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errorsIsConflict(err):
				clash++
				// The conflict is reported once the winner is committed:
				// a loser that reads the stream finds it.
				evs, rerr := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "hot"})
				if rerr != nil || len(evs) != 2 {
					t.Errorf("writer %d lost, but the stream holds %d events (%v)", i, len(evs), rerr)
				}
			default:
				t.Errorf("writer %d: unexpected error %v", i, err)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, 1, ok, "exactly one writer wins")
	require.Equal(t, writers-1, clash)
	evs, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "hot"})
	require.NoError(t, err)
	require.Len(t, evs, 2)
}

func errorsIsConflict(err error) bool {
	return errors.Is(err, eventlog.ErrVersionConflict) && eventlog.IsRetryable(err)
}

func testConcurrentAnyVersion(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)
	const writers, each = 8, 10
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				_, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("shared", "Tick", fmt.Sprint(w, i))}})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	evs, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "shared"})
	require.NoError(t, err)
	require.Len(t, evs, writers*each)
	for i, e := range evs {
		require.EqualValues(t, i+1, e.StreamVersion)
	}
}

func testTransaction(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)

	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	first, err := tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("t", "Create", 1)}})
	require.NoError(t, err)
	second, err := tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("t", "Update", 2)}, Expect: map[string]int64{"t": 1}})
	require.NoError(t, err)
	require.EqualValues(t, 1, first[0].StreamVersion)
	require.EqualValues(t, 2, second[0].StreamVersion)
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, tx.Rollback(ctx), "rollback after commit is a no-op")
	_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("t", "Update", 3)}})
	require.ErrorIs(t, err, eventlog.ErrClosed)

	rolled, err := s.Begin(ctx)
	require.NoError(t, err)
	_, err = rolled.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("r", "Create", 1), ev("t", "Update", 3)}})
	require.NoError(t, err)
	require.NoError(t, rolled.Rollback(ctx))

	_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "r"})
	require.ErrorIs(t, err, eventlog.ErrStreamNotFound)
	evs, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "t"})
	require.NoError(t, err)
	require.Len(t, evs, 2)

	// The log goes on gapless after the rollback.
	appendOne(t, ctx, s, ev("t", "Update", 4))
	waitSealed(t, ctx, s, 3)
	all := readAll(t, ctx, s, eventlog.ReadQuery{})
	require.Len(t, all, 3)
	require.EqualValues(t, 3, all[2].Position)
	require.EqualValues(t, 3, all[2].StreamVersion)
}

func testBadInput(t *testing.T, b Backend) {
	l := b.NewLog(t)
	ctx := context.Background()
	s := open(t, l, eventlog.Config{MaxEventSize: 1024})
	good := ev("ok", "Create", 1)
	big := ev("ok", "Create", strings.Repeat("x", 1100))
	tests := []struct {
		name string
		req  eventlog.AppendRequest
		code errcode.Code
	}{
		{"no events", eventlog.AppendRequest{}, errcode.InvalidEvent},
		{"empty type", eventlog.AppendRequest{Events: []eventlog.NewEvent{good, {StreamID: "x", Data: []byte(`{}`)}}}, errcode.InvalidEvent},
		{"empty stream", eventlog.AppendRequest{Events: []eventlog.NewEvent{{Type: "T", Data: []byte(`{}`)}}}, errcode.InvalidEvent},
		{"invalid json", eventlog.AppendRequest{Events: []eventlog.NewEvent{good, {StreamID: "x", Type: "T", Data: []byte(`{"a":`)}}}, errcode.InvalidEvent},
		{"empty data", eventlog.AppendRequest{Events: []eventlog.NewEvent{{StreamID: "x", Type: "T"}}}, errcode.InvalidEvent},
		{"invalid utf8 data", eventlog.AppendRequest{Events: []eventlog.NewEvent{{StreamID: "x", Type: "T", Data: []byte("\"\xff\"")}}}, errcode.InvalidEvent},
		{"control char", eventlog.AppendRequest{Events: []eventlog.NewEvent{{StreamID: "x\x00", Type: "T", Data: []byte(`1`)}}}, errcode.InvalidEvent},
		{"negative depth", eventlog.AppendRequest{Events: []eventlog.NewEvent{{StreamID: "x", Type: "T", Data: []byte(`1`), Metadata: eventlog.Metadata{Depth: -1}}}}, errcode.InvalidEvent},
		{"too large", eventlog.AppendRequest{Events: []eventlog.NewEvent{good, big}}, errcode.EventTooLarge},
		{"expectation without event", eventlog.AppendRequest{Events: []eventlog.NewEvent{good}, Expect: map[string]int64{"other": 0}}, errcode.InvalidEvent},
		{"negative expectation", eventlog.AppendRequest{Events: []eventlog.NewEvent{good}, Expect: map[string]int64{"ok": -3}}, errcode.InvalidEvent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Append(ctx, tt.req)
			require.Error(t, err)
			require.Equal(t, tt.code, errcode.Of(err), "error: %v", err)
			tx, err := s.Begin(ctx)
			require.NoError(t, err)
			_, err = tx.Append(ctx, tt.req)
			require.Equal(t, tt.code, errcode.Of(err), "in a transaction: %v", err)
			require.NoError(t, tx.Rollback(ctx))
		})
	}
	var ie *eventlog.InvalidEventError
	_, err := s.Append(ctx, tests[1].req)
	require.ErrorAs(t, err, &ie)
	require.Equal(t, 1, ie.Index)
	require.Equal(t, "type", ie.Field)
	_, err = s.Append(ctx, tests[3].req) // invalid JSON in the second event
	require.ErrorAs(t, err, &ie)
	require.Equal(t, 1, ie.Index)
	require.Equal(t, "data", ie.Field)

	for _, stream := range []string{"ok", "x"} {
		_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: stream})
		require.ErrorIs(t, err, eventlog.ErrStreamNotFound, "nothing was written to %s", stream)
	}
	head, err := s.Head(ctx)
	require.NoError(t, err)
	require.Zero(t, head.Position)
	require.Zero(t, head.Unsealed)

	for _, q := range []eventlog.ReadQuery{{After: -1}, {Limit: -1}, {Limit: 1 << 30}, {Since: time.Unix(10, 0), Until: time.Unix(5, 0)}} {
		_, err = s.Read(ctx, q)
		require.Equal(t, errcode.InvalidArgument, errcode.Of(err), "query %+v: %v", q, err)
	}
	_, err = s.ReadStream(ctx, eventlog.StreamQuery{})
	require.Equal(t, errcode.InvalidArgument, errcode.Of(err))
}

func testReadFilters(t *testing.T, b Backend) {
	l := b.NewLog(t)
	ctx := context.Background()
	var (
		mu    sync.Mutex
		clock = time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	)
	s := open(t, l, eventlog.Config{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Minute)
		return clock
	}})
	for i := range 20 {
		e := ev(fmt.Sprintf("account/%d", i%3), []string{"Create", "Update", "Delete", "Purchase"}[i%4], i)
		e.Metadata.CorrelationID = fmt.Sprintf("corr-%d", i%5)
		appendOne(t, ctx, s, e)
	}
	waitSealed(t, ctx, s, 20)
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC) // event i was recorded at t0 + (i+1) minutes

	positions := func(q eventlog.ReadQuery) []int64 {
		var ps []int64
		for _, e := range readAll(t, ctx, s, q) {
			ps = append(ps, e.Position)
		}
		return ps
	}
	tests := []struct {
		name string
		q    eventlog.ReadQuery
		want []int64
	}{
		{"stream", eventlog.ReadQuery{StreamID: "account/1"}, []int64{2, 5, 8, 11, 14, 17, 20}},
		{"types", eventlog.ReadQuery{Types: []string{"Delete", "Purchase"}}, []int64{3, 4, 7, 8, 11, 12, 15, 16, 19, 20}},
		{"since", eventlog.ReadQuery{Since: t0.Add(18 * time.Minute)}, []int64{18, 19, 20}},
		{"until", eventlog.ReadQuery{Until: t0.Add(3 * time.Minute)}, []int64{1, 2}},
		{"range", eventlog.ReadQuery{Since: t0.Add(5 * time.Minute), Until: t0.Add(7 * time.Minute)}, []int64{5, 6}},
		{"correlation", eventlog.ReadQuery{CorrelationID: "corr-2"}, []int64{3, 8, 13, 18}},
		{"combined", eventlog.ReadQuery{StreamID: "account/0", Types: []string{"Create"}, After: 1}, []int64{13}},
		{"after", eventlog.ReadQuery{After: 17}, []int64{18, 19, 20}},
		{"limit pages", eventlog.ReadQuery{Limit: 3, After: 14}, []int64{15, 16, 17, 18, 19, 20}},
		{"no match", eventlog.ReadQuery{CorrelationID: "nope"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, positions(tt.q))
		})
	}
	evs, err := s.Read(ctx, eventlog.ReadQuery{Limit: 4})
	require.NoError(t, err)
	require.Len(t, evs, 4)
	require.Equal(t, t0.Add(time.Minute), evs[0].Metadata.Time)
}

// testEventTimes: Config.Now is called once per append, its time truncated
// to the microsecond; read bounds between two microseconds act as the next
// one on every backend, so Since set to an event's Time includes it.
func testEventTimes(t *testing.T, b Backend) {
	l := b.NewLog(t)
	ctx := context.Background()
	var (
		mu    sync.Mutex
		calls int
		clock = time.Date(2026, 3, 1, 8, 0, 0, 5700, time.UTC) // 5.7 µs
	)
	s := open(t, l, eventlog.Config{Now: func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		calls++
		clock = clock.Add(time.Hour)
		return clock
	}})
	evs, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("a", "T", 1), ev("b", "T", 2), ev("a", "T", 3)}})
	require.NoError(t, err)
	at := time.Date(2026, 3, 1, 9, 0, 0, 5000, time.UTC)
	for _, e := range evs {
		require.Equal(t, at, e.Metadata.Time, "one time for the whole append, truncated to the microsecond")
	}
	mu.Lock()
	require.Equal(t, 1, calls, "Now is called once per append")
	mu.Unlock()
	waitSealed(t, ctx, s, 3)

	tests := []struct {
		name         string
		since, until time.Time
		want         int
	}{
		{"since exact", at, time.Time{}, 3},
		{"since exact in another zone", at.In(time.FixedZone("X", 3600)), time.Time{}, 3},
		{"since a nanosecond later", at.Add(time.Nanosecond), time.Time{}, 0},
		{"since a nanosecond earlier", at.Add(-time.Nanosecond), time.Time{}, 3},
		{"since a microsecond earlier", at.Add(-time.Microsecond), time.Time{}, 3},
		{"until exact", time.Time{}, at, 0},
		{"until a nanosecond later", time.Time{}, at.Add(time.Nanosecond), 3},
		{"until a nanosecond earlier", time.Time{}, at.Add(-time.Nanosecond), 0},
		{"within a microsecond", at.Add(-time.Nanosecond), at.Add(time.Nanosecond), 3},
		{"inside one microsecond", at.Add(time.Nanosecond), at.Add(2 * time.Nanosecond), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evs, err := s.Read(ctx, eventlog.ReadQuery{Since: tt.since, Until: tt.until})
			require.NoError(t, err)
			require.Len(t, evs, tt.want)
		})
	}
}

// testOffsets: offsets are stored and replaced; bad names and positions are
// invalid arguments on every backend, and change nothing.
func testOffsets(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)
	require.NoError(t, s.SetOffset(ctx, "sub", 7))
	require.NoError(t, s.SetOffset(ctx, "sub", 3), "an offset may move back, for a replay")
	longest := strings.Repeat("s", eventlog.MaxSubscriberLength)
	require.NoError(t, s.SetOffset(ctx, longest, 0))
	off, ok, err := s.Offset(ctx, longest)
	require.NoError(t, err)
	require.True(t, ok)
	require.Zero(t, off)

	tests := []struct {
		name string
		sub  string
		pos  int64
	}{
		{"empty name", "", 1},
		{"name too long", longest + "s", 1},
		{"name not UTF-8", "sub\xff", 1},
		{"control character", "sub\x00", 1},
		{"negative position", "sub", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.SetOffset(ctx, tt.sub, tt.pos)
			require.ErrorIs(t, err, eventlog.ErrInvalidQuery)
			require.Equal(t, errcode.InvalidArgument, errcode.Of(err), "error: %v", err)
			var ee *eventlog.Error
			require.ErrorAs(t, err, &ee)
			if tt.pos >= 0 {
				_, _, err = s.Offset(ctx, tt.sub)
				require.Equal(t, errcode.InvalidArgument, errcode.Of(err), "Offset: %v", err)
			}
		})
	}
	off, ok, err = s.Offset(ctx, "sub")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 3, off, "the rejected calls changed nothing")
}

func testReadStream(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)
	for i := range 5 {
		appendOne(t, ctx, s, ev("row", "Update", i))
		appendOne(t, ctx, s, ev("other", "Update", i))
	}
	_, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "missing"})
	require.ErrorIs(t, err, eventlog.ErrStreamNotFound)
	require.Equal(t, errcode.StreamNotFound, errcode.Of(err))

	evs, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "row", FromVersion: 3})
	require.NoError(t, err)
	require.Len(t, evs, 3)
	require.EqualValues(t, 3, evs[0].StreamVersion)
	require.JSONEq(t, "2", string(evs[0].Data))

	evs, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "row", FromVersion: 2, Limit: 2})
	require.NoError(t, err)
	require.Len(t, evs, 2)
	require.EqualValues(t, 3, evs[1].StreamVersion)

	evs, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "row", FromVersion: 6})
	require.NoError(t, err, "one past the end: caught up")
	require.Empty(t, evs)
	_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "row", FromVersion: 7})
	require.ErrorIs(t, err, eventlog.ErrUnknownPosition)
}

// testReadStreamBackward reads a stream from a version down, as a reader
// of "the event before version N" does, and one event at a version.
func testReadStreamBackward(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)
	for i := range 5 {
		appendOne(t, ctx, s, ev("row", "Update", i))
		appendOne(t, ctx, s, ev("other", "Update", i))
	}
	versions := func(evs []eventlog.Event) []int64 {
		out := make([]int64, 0, len(evs))
		for _, e := range evs {
			require.Equal(t, "row", e.StreamID)
			require.JSONEq(t, fmt.Sprint(e.StreamVersion-1), string(e.Data), "the event at version %d", e.StreamVersion)
			out = append(out, e.StreamVersion)
		}
		return out
	}
	back := func(from int64, limit int) []int64 {
		t.Helper()
		evs, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "row", FromVersion: from, Backward: true, Limit: limit})
		require.NoError(t, err)
		return versions(evs)
	}
	require.Equal(t, []int64{5, 4, 3, 2, 1}, back(0, 0), "0: from the last version")
	require.Equal(t, []int64{5, 4}, back(0, 2))
	require.Equal(t, []int64{4, 3}, back(4, 2), "the two events before version 5")
	require.Equal(t, []int64{1}, back(1, 0))
	for v := int64(1); v <= 5; v++ {
		require.Equal(t, []int64{v}, back(v, 1), "one event at a version, backward")
		evs, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "row", FromVersion: v, Limit: 1})
		require.NoError(t, err)
		require.Equal(t, []int64{v}, versions(evs), "one event at a version, forward")
	}

	_, err := s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "row", FromVersion: 6, Backward: true})
	require.ErrorIs(t, err, eventlog.ErrUnknownPosition, "past the end: no such version")
	_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "missing", Backward: true})
	require.ErrorIs(t, err, eventlog.ErrStreamNotFound)
	_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "missing", FromVersion: 3, Backward: true})
	require.ErrorIs(t, err, eventlog.ErrStreamNotFound)
	_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "row", FromVersion: -1, Backward: true})
	require.ErrorIs(t, err, eventlog.ErrInvalidQuery)
	_, err = s.ReadStream(ctx, eventlog.StreamQuery{StreamID: "row", Backward: true, Limit: -1})
	require.ErrorIs(t, err, eventlog.ErrInvalidQuery)

	// An event appended in a transaction is read only once it commits, and
	// at once then, sealed or not.
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("row", "Update", 5)}, Expect: map[string]int64{"row": 5}})
	require.NoError(t, err)
	require.Equal(t, []int64{5}, back(0, 1), "not committed yet")
	require.NoError(t, tx.Commit(ctx))
	require.Equal(t, []int64{6, 5}, back(0, 2))
	require.Equal(t, []int64{5}, back(5, 1))
}

func testFollowResumes(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)
	for i := range 10 {
		appendOne(t, ctx, s, ev("f", "Tick", i))
	}
	// follow runs a durable follower until its stored offset reaches want.
	follow := func(want int64) []eventlog.Event {
		fctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		var (
			mu  sync.Mutex
			got []eventlog.Event
		)
		done := make(chan error, 1)
		go func() {
			done <- eventlog.Follow(fctx, s, eventlog.FollowConfig{Subscriber: "audit", BatchSize: 3}, func(_ context.Context, evs []eventlog.Event) error {
				mu.Lock()
				defer mu.Unlock()
				got = append(got, evs...)
				return nil
			})
		}()
		require.Eventually(t, func() bool {
			off, _, err := s.Offset(ctx, "audit")
			return err == nil && off == want
		}, waitTimeout, 5*time.Millisecond)
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
		mu.Lock()
		defer mu.Unlock()
		return got
	}
	got := follow(10)
	require.Len(t, got, 10)
	for i, e := range got {
		require.EqualValues(t, i+1, e.Position)
	}
	off, ok, err := s.Offset(ctx, "audit")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 10, off)

	for i := range 5 {
		appendOne(t, ctx, s, ev("f", "Tick", 10+i))
	}
	got = follow(15)
	require.Len(t, got, 5, "resumes after the stored offset")
	require.EqualValues(t, 11, got[0].Position)

	// A failing handler stops the follower without moving its offset.
	boom := fmt.Errorf("subscriber down")
	appendOne(t, ctx, s, ev("f", "Tick", 15))
	err = eventlog.Follow(ctx, s, eventlog.FollowConfig{Subscriber: "audit"}, func(context.Context, []eventlog.Event) error { return boom })
	require.ErrorIs(t, err, boom)
	off, _, err = s.Offset(ctx, "audit")
	require.NoError(t, err)
	require.EqualValues(t, 15, off)

	_, ok, err = s.Offset(ctx, "nobody")
	require.NoError(t, err)
	require.False(t, ok)
}

// testManyWritersFollower: many concurrent writers, transactions committing
// out of order, a follower reading all along: it sees every committed event
// exactly once, in position order, and a second pass sees the same order.
func testManyWritersFollower(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)
	const writers, each = 16, 250
	total := writers * each

	var (
		seen   = make(map[uuid.UUID]int64, total)
		order  []uuid.UUID
		done   = make(chan error, 1)
		fctx   context.Context
		cancel context.CancelFunc
	)
	fctx, cancel = context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	go func() {
		last := int64(0)
		done <- eventlog.Follow(fctx, s, eventlog.FollowConfig{BatchSize: 97}, func(_ context.Context, evs []eventlog.Event) error {
			for _, e := range evs {
				if e.Position != last+1 {
					return fmt.Errorf("position %d after %d", e.Position, last)
				}
				last = e.Position
				if p, dup := seen[e.ID]; dup {
					return fmt.Errorf("event %s seen twice, at %d and %d", e.ID, p, e.Position)
				}
				seen[e.ID] = e.Position
				order = append(order, e.ID)
			}
			if len(order) == total {
				cancel()
			}
			return nil
		})
	}()

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		appended = make(map[uuid.UUID]bool, total)
	)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; {
				// Alternate single appends, batches, and transactions that
				// hold on a little, so commits interleave out of id order.
				n := 1 + (i % 3)
				if i+n > each {
					n = each - i
				}
				var evs []eventlog.NewEvent
				for k := range n {
					evs = append(evs, ev(fmt.Sprintf("w%d/%d", w, (i+k)%7), "Tick", map[string]int{"w": w, "i": i + k}))
				}
				var got []eventlog.Event
				var err error
				if i%4 == 0 {
					var tx eventlog.Tx
					tx, err = s.Begin(ctx)
					if err == nil {
						got, err = tx.Append(ctx, eventlog.AppendRequest{Events: evs})
						if err == nil {
							time.Sleep(time.Duration(w%3) * time.Millisecond)
							err = tx.Commit(ctx)
						} else {
							_ = tx.Rollback(ctx)
						}
					}
				} else {
					got, err = s.Append(ctx, eventlog.AppendRequest{Events: evs})
				}
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
					return
				}
				mu.Lock()
				for _, e := range got {
					appended[e.ID] = true
				}
				mu.Unlock()
				i += n
			}
		}()
	}
	wg.Wait()
	require.Len(t, appended, total)

	select {
	case err := <-done:
		require.ErrorIs(t, err, context.Canceled, "follower stopped early")
	case <-time.After(2 * time.Minute):
		t.Fatal("follower did not finish")
	}
	require.Len(t, seen, total, "follower saw every event")
	for id := range appended {
		_, ok := seen[id]
		require.True(t, ok, "event %s missed", id)
	}

	// A second pass from the start sees the same order.
	again := readAll(t, ctx, s, eventlog.ReadQuery{Limit: 1000})
	require.Len(t, again, total)
	for i, e := range again {
		require.Equal(t, order[i], e.ID, "position %d", i+1)
	}
	rep, err := eventlog.Verify(ctx, s, 0, 0)
	require.NoError(t, err)
	require.True(t, rep.OK(), "broken: %v", rep.Broken)
	require.EqualValues(t, total, rep.Checked)
}

func testRestartKeepsChain(t *testing.T, b Backend) {
	l := b.NewLog(t)
	ctx := context.Background()
	s := open(t, l, eventlog.Config{})
	for i := range 5 {
		appendOne(t, ctx, s, ev("r", "Tick", i))
	}
	require.NoError(t, s.SetOffset(ctx, "sub", 3))
	head := waitSealed(t, ctx, s, 5)
	before := readAll(t, ctx, s, eventlog.ReadQuery{})
	require.NoError(t, s.Close())

	s2 := open(t, l, eventlog.Config{})
	h2, err := s2.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, head, h2)
	require.Equal(t, before, readAll(t, ctx, s2, eventlog.ReadQuery{}))
	off, ok, err := s2.Offset(ctx, "sub")
	require.NoError(t, err)
	require.True(t, ok)
	require.EqualValues(t, 3, off)

	got := appendOne(t, ctx, s2, ev("r", "Tick", 5))
	require.EqualValues(t, 6, got.StreamVersion)
	waitSealed(t, ctx, s2, 6)
	rep, err := eventlog.Verify(ctx, s2, 0, 0)
	require.NoError(t, err)
	require.True(t, rep.OK(), "broken: %v", rep.Broken)
	require.EqualValues(t, 6, rep.Checked)
}

// testCloseSeals: Close seals what was appended through the store, so a
// store on the same log finds nothing unsealed at once, without waiting.
func testCloseSeals(t *testing.T, b Backend) {
	l := b.NewLog(t)
	ctx := context.Background()
	// A poll interval far longer than the test: other's sealer (where the
	// backend has one) makes its first pass at open, then seals nothing of
	// what s appends.
	other := open(t, l, eventlog.Config{PollInterval: time.Hour})
	s := open(t, l, eventlog.Config{PollInterval: time.Hour})
	const n = 20
	for i := range n - 2 {
		appendOne(t, ctx, s, ev(fmt.Sprintf("c/%d", i%3), "Tick", i))
	}
	tx, err := s.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("c/tx", "Tick", 1), ev("c/tx", "Tick", 2)}})
	require.NoError(t, err)
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, s.Close())

	h, err := other.Head(ctx)
	require.NoError(t, err)
	require.EqualValues(t, n, h.Position)
	require.Zero(t, h.Unsealed)
	rep, err := eventlog.Verify(ctx, other, 0, 0)
	require.NoError(t, err)
	require.NoError(t, rep.Err())
	require.EqualValues(t, n, rep.Checked)

	reopened := open(t, l, eventlog.Config{})
	h2, err := reopened.Head(ctx)
	require.NoError(t, err)
	require.Equal(t, h, h2)
}

func testVerifyDetectsTampering(t *testing.T, b Backend) {
	l := b.NewLog(t)
	ctx := context.Background()
	s := open(t, l, eventlog.Config{})
	for i := range 10 {
		appendOne(t, ctx, s, ev("v", "Tick", map[string]int{"amount": i}))
	}
	waitSealed(t, ctx, s, 10)

	rep, err := eventlog.Verify(ctx, s, 0, 0)
	require.NoError(t, err)
	require.NoError(t, rep.Err(), "intact")

	l.Tamper(t, 6, `{"amount": 1000000}`)
	rep, err = eventlog.Verify(ctx, s, 0, 0)
	require.NoError(t, err)
	require.NotNil(t, rep.Broken)
	require.EqualValues(t, 6, rep.Broken.Position)
	require.EqualValues(t, 5, rep.Checked)
	require.ErrorIs(t, rep.Err(), eventlog.ErrChainBroken)
	require.Equal(t, errcode.ChainBroken, errcode.Of(rep.Err()))
	require.ErrorContains(t, rep.Err(), "position 6")

	rep, err = eventlog.Verify(ctx, s, 7, 10)
	require.NoError(t, err)
	require.True(t, rep.OK(), "links after the altered one still hold: %v", rep.Broken)

	l.Remove(t, 8)
	rep, err = eventlog.Verify(ctx, s, 7, 10)
	require.NoError(t, err)
	require.NotNil(t, rep.Broken)
	require.EqualValues(t, 8, rep.Broken.Position)
}

func testConcurrentOpen(t *testing.T, b Backend) {
	l := b.NewLog(t)
	ctx := context.Background()
	// Two processes starting at once on a fresh log both run the
	// migrations; both must come up, and a third start finds nothing to do.
	// The goroutines only collect what they got: require must run in the
	// test's goroutine.
	stores := make([]eventlog.Store, 3)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		wg.Go(func() {
			octx, cancel := context.WithTimeout(ctx, waitTimeout)
			defer cancel()
			stores[i], errs[i] = l.Open(octx, eventlog.Config{})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if stores[i] != nil {
			closeAtEnd(t, stores[i])
		}
		require.NoError(t, err, "open %d", i)
	}
	stores[2] = open(t, l, eventlog.Config{})
	for i, s := range stores {
		appendOne(t, ctx, s, ev("open", "Tick", i))
	}
	waitSealed(t, ctx, stores[0], 3)
	evs, err := stores[1].ReadStream(ctx, eventlog.StreamQuery{StreamID: "open"})
	require.NoError(t, err)
	require.Len(t, evs, 3)
}

func testClosed(t *testing.T, b Backend) {
	s, _, ctx := setup(t, b)
	appendOne(t, ctx, s, ev("c", "Tick", 1))
	require.NoError(t, s.Close())
	_, err := s.Append(ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{ev("c", "Tick", 2)}})
	require.ErrorIs(t, err, eventlog.ErrClosed)
	_, err = s.Read(ctx, eventlog.ReadQuery{})
	require.ErrorIs(t, err, eventlog.ErrClosed)
	_, err = s.Begin(ctx)
	require.ErrorIs(t, err, eventlog.ErrClosed)
	require.ErrorIs(t, s.Wait(ctx, 0), eventlog.ErrClosed)
	require.NoError(t, s.Close(), "closing twice is fine")
}

func testWaitWakes(t *testing.T, b Backend) {
	l := b.NewLog(t)
	ctx := context.Background()
	// A poll interval far longer than the test: only a wake-up can end Wait.
	s := open(t, l, eventlog.Config{PollInterval: time.Hour})
	appendOne(t, ctx, s, ev("w", "Tick", 0))
	waitSealed(t, ctx, s, 1)

	woke := make(chan error, 1)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		woke <- s.Wait(wctx, 1)
	}()
	time.Sleep(20 * time.Millisecond)
	appendOne(t, ctx, s, ev("w", "Tick", 1))
	require.NoError(t, <-woke)

	if b.OneProcess {
		return
	}
	// An append through a second store (another process) wakes too.
	other := open(t, l, eventlog.Config{PollInterval: time.Hour})
	waitSealed(t, ctx, s, 2)
	go func() {
		wctx, cancel := context.WithTimeout(ctx, waitTimeout)
		defer cancel()
		woke <- s.Wait(wctx, 2)
	}()
	time.Sleep(20 * time.Millisecond)
	appendOne(t, ctx, other, ev("w", "Tick", 2))
	require.NoError(t, <-woke)

	// Cancellation ends Wait with the context's error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, s.Wait(cctx, 100), context.Canceled)
}
