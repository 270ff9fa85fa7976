package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testTimeout bounds every wait of a test.
const testTimeout = 30 * time.Second

// bundle is what most tests need: a fresh SQLite log and a bounded context.
type bundle struct {
	ctx context.Context
	db  dbOptions
}

func setup(t *testing.T) *bundle {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return &bundle{ctx: ctx, db: dbOptions{DB: filepath.Join(t.TempDir(), "log.db")}}
}

// append appends one event through the command and returns it as printed.
func (b *bundle) append(t *testing.T, stream, typ, data string, mod ...func(*logAppendOptions)) eventJSON {
	t.Helper()
	o := logAppendOptions{DB: b.db, Stream: stream, Type: typ, Data: []byte(data)}
	for _, m := range mod {
		m(&o)
	}
	var out, errOut bytes.Buffer
	require.NoError(t, runLogAppend(b.ctx, o, &out, &errOut), errOut.String())
	evs := parseJSONLines(t, out.String())
	require.Len(t, evs, 1)
	return evs[0]
}

// cli runs a command line as main does, with BIZEVENTS_DB set to the
// bundle's log, and returns the exit code and the output.
func (b *bundle) cli(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	env := &cliEnv{
		stdin:  strings.NewReader(stdin),
		stdout: &out,
		stderr: &errOut,
		getenv: func(k string) string {
			if k == envDB {
				return b.db.DB
			}
			return ""
		},
	}
	code = run(b.ctx, args, env)
	return code, out.String(), errOut.String()
}

// parseJSONLines decodes one event per line, strictly.
func parseJSONLines(t *testing.T, s string) []eventJSON {
	t.Helper()
	var evs []eventJSON
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 4<<20)
	for sc.Scan() {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		var e eventJSON
		require.NoError(t, dec.Decode(&e), "line %q", sc.Text())
		evs = append(evs, e)
	}
	require.NoError(t, sc.Err())
	return evs
}

func positions(evs []eventJSON) []int64 {
	out := make([]int64, 0, len(evs))
	for _, e := range evs {
		if e.Position == nil {
			out = append(out, 0)
			continue
		}
		out = append(out, *e.Position)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

// syncBuffer is a buffer that goroutines may write while a test waits for
// what it holds.
type syncBuffer struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	changed chan struct{}
}

func newSyncBuffer() *syncBuffer { return &syncBuffer{changed: make(chan struct{})} }

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	n, err := b.buf.Write(p)
	close(b.changed)
	b.changed = make(chan struct{})
	return n, err
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor waits until the buffer's content satisfies cond, and returns it.
func (b *syncBuffer) waitFor(t *testing.T, ctx context.Context, what string, cond func(string) bool) string {
	t.Helper()
	for {
		b.mu.Lock()
		s, changed := b.buf.String(), b.changed
		b.mu.Unlock()
		if cond(s) {
			return s
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v; buffer holds:\n%s", what, ctx.Err(), s)
		}
	}
}

// server is a runServe running for a test.
type server struct {
	base   string // http://host:port
	stderr *syncBuffer
	cancel context.CancelFunc
	done   chan error
}

// do sends an authenticated request to the server, a JSON body when body
// is not empty, and returns the status and the response body.
func (s *server) do(t *testing.T, ctx context.Context, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, s.base+path, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", testAPIKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(out)
}

// startServe runs serve with o on a free port until the test ends or stop.
func startServe(t *testing.T, ctx context.Context, o serveOptions) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	s := &server{stderr: newSyncBuffer(), cancel: cancel, done: make(chan error, 1)}
	addrs := make(chan net.Addr, 1)
	o.Addr, o.ready = "127.0.0.1:0", func(a net.Addr) { addrs <- a }
	go func() { s.done <- runServe(ctx, o, io.Discard, s.stderr) }()
	t.Cleanup(func() {
		cancel()
		<-s.done
	})
	select {
	case a := <-addrs:
		s.base = "http://" + a.String()
	case err := <-s.done:
		s.done <- err
		t.Fatalf("serve returned: %v; stderr:\n%s", err, s.stderr)
	case <-ctx.Done():
		t.Fatal("serve did not start")
	}
	return s
}

// stop stops the server and returns what serve returned.
func (s *server) stop(t *testing.T) error {
	t.Helper()
	s.cancel()
	select {
	case err := <-s.done:
		s.done <- err // for the cleanup
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not return promptly after cancel")
		return nil
	}
}
