package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/sqlite"
)

func TestServe(t *testing.T) {
	t.Parallel()
	b := setup(t)
	srv := startServe(t, b.ctx, serveOptions{DB: b.db, APIKey: testAPIKey})
	base, stderr := srv.base, srv.stderr
	require.Contains(t, stderr.String(), "component=serve")
	require.Contains(t, stderr.String(), "addr="+base)
	require.Contains(t, stderr.String(), `db="sqlite `+b.db.DB+`"`)

	client := &http.Client{Timeout: 10 * time.Second}
	get := func(t *testing.T, path string) (int, http.Header, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, base+path, nil)
		require.NoError(t, err)
		req.Header.Set("X-Api-Key", testAPIKey)
		resp, err := client.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header, body
	}
	getError := func(t *testing.T, path string) (int, errorBody) {
		t.Helper()
		status, h, body := get(t, path)
		require.Equal(t, "application/json", h.Get("Content-Type"))
		dec := json.NewDecoder(strings.NewReader(string(body)))
		dec.DisallowUnknownFields()
		var e errorJSON
		require.NoError(t, dec.Decode(&e), string(body))
		require.NotEmpty(t, e.Error.Message)
		return status, e.Error
	}

	status, _, body := get(t, "/healthz")
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, "ok\n", string(body))

	status, _, body = get(t, "/api/log/events")
	require.Equal(t, http.StatusOK, status)
	require.JSONEq(t, `[]`, string(body))

	// Append through a store of its own on the same file.
	store, err := sqlite.Open(b.ctx, sqlite.Config{Path: b.db.DB})
	require.NoError(t, err)
	defer store.Close()
	appended, err := store.Append(b.ctx, eventlog.AppendRequest{Events: []eventlog.NewEvent{
		{StreamID: "account/1", Type: "Create", Data: []byte(`{"name":"Contoso"}`), Metadata: eventlog.Metadata{CorrelationID: "c1", UserID: "u1"}},
		{StreamID: "account/1", Type: "Update", Data: []byte(`{"name":"Fabrikam"}`), Metadata: eventlog.Metadata{CorrelationID: "c2"}},
		{StreamID: "order/7", Type: "CustomerPurchase", Data: []byte(`{"amount":3}`), Metadata: eventlog.Metadata{CorrelationID: "c1"}},
	}})
	require.NoError(t, err)

	t.Run("Events", func(t *testing.T) {
		status, h, body := get(t, "/api/log/events")
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, "application/json", h.Get("Content-Type"))
		var evs []eventJSON
		require.NoError(t, json.Unmarshal(body, &evs))
		require.Equal(t, toEventsJSON(appended), evs)
		// The shape, field by field.
		var raw []map[string]any
		require.NoError(t, json.Unmarshal(body, &raw))
		first := raw[0]
		require.EqualValues(t, 1, first["position"])
		require.Equal(t, appended[0].ID.String(), first["id"])
		require.Equal(t, "account/1", first["stream_id"])
		require.EqualValues(t, 1, first["stream_version"])
		require.Equal(t, "Create", first["type"])
		require.Equal(t, map[string]any{"name": "Contoso"}, first["data"])
		md := first["metadata"].(map[string]any)
		require.Equal(t, "u1", md["user_id"])
		require.Equal(t, "c1", md["correlation_id"])
		for _, k := range []string{"initiating_user_id", "request_id", "causation_id", "depth", "solution", "time"} {
			require.Contains(t, md, k)
		}
		require.Regexp(t, `^[0-9a-f]{64}$`, first["hash"])
	})

	t.Run("Filters", func(t *testing.T) {
		for _, tt := range []struct {
			query string
			want  []int64
		}{
			{"after=1", []int64{2, 3}},
			{"after=0&limit=1", []int64{1}},
			{"stream=account/1", []int64{1, 2}},
			{"type=Update&type=CustomerPurchase", []int64{2, 3}},
			{"type=Create,Update", []int64{1, 2}},
			{"correlation_id=c1", []int64{1, 3}},
			{"since=" + url.QueryEscape(appended[0].Metadata.Time.Format(time.RFC3339Nano)), []int64{1, 2, 3}},
			{"until=" + url.QueryEscape(appended[0].Metadata.Time.Format(time.RFC3339Nano)), []int64{}},
			{"after=3", []int64{}},
		} {
			status, _, body := get(t, "/api/log/events?"+tt.query)
			require.Equal(t, http.StatusOK, status, "%s: %s", tt.query, body)
			var evs []eventJSON
			require.NoError(t, json.Unmarshal(body, &evs))
			require.Equal(t, tt.want, positions(evs), tt.query)
		}
	})

	t.Run("Head", func(t *testing.T) {
		status, _, body := get(t, "/api/log/head")
		require.Equal(t, http.StatusOK, status)
		var h headJSON
		require.NoError(t, json.Unmarshal(body, &h))
		require.Equal(t, toHeadJSON(eventlog.Head{Position: 3, Hash: appended[2].Hash}), h)
	})

	t.Run("Errors", func(t *testing.T) {
		for _, tt := range []struct {
			query  string
			status int
			code   errcode.Code
		}{
			{"after=abc", http.StatusBadRequest, errcode.InvalidArgument},
			{"after=-1", http.StatusBadRequest, errcode.InvalidArgument},
			{"limit=x", http.StatusBadRequest, errcode.InvalidArgument},
			{"limit=1000000", http.StatusBadRequest, errcode.InvalidArgument},
			{"since=yesterday", http.StatusBadRequest, errcode.InvalidArgument},
			{"after=1&after=2", http.StatusBadRequest, errcode.InvalidArgument},
			{"stream_id=x", http.StatusBadRequest, errcode.InvalidArgument},
			{"since=2025-02-01&until=2025-01-01", http.StatusBadRequest, errcode.InvalidArgument},
			{"after=99", http.StatusNotFound, errcode.UnknownPosition},
		} {
			status, e := getError(t, "/api/log/events?"+tt.query)
			require.Equal(t, tt.status, status, tt.query)
			require.Equal(t, tt.code, e.BizeventsCode, "%s: %s", tt.query, e.Message)
			entry, _ := errcode.Lookup(tt.code)
			require.Equal(t, entry.Hex, e.Code)
		}
		_, e := getError(t, "/api/log/events?after=abc&limit=x")
		require.Contains(t, e.Message, `after="abc"`)
		require.Contains(t, e.Message, `limit="x"`, "every problem at once")
	})

	t.Run("NeedsCredentials", func(t *testing.T) {
		req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, base+"/api/log/head", nil)
		require.NoError(t, err)
		resp, err := client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		require.Equal(t, string(errcode.Unauthenticated), resp.Header.Get("X-Bizevents-Error-Code"))
	})

	// A second serve of the same SQLite file is refused, saying who has it.
	err = runServe(b.ctx, serveOptions{DB: b.db, Addr: "127.0.0.1:0", APIKey: testAPIKey}, io.Discard, io.Discard)
	require.ErrorContains(t, err, fmt.Sprintf("another bizevents serve (pid %d) already serves the SQLite database", os.Getpid()))
	require.Equal(t, errcode.Unavailable, errcode.Of(err))

	require.NoError(t, srv.stop(t))
	require.Contains(t, stderr.String(), "msg=stopped")
}

// testAPIKey authenticates the tests' requests.
const testAPIKey = "bze_test_key_0123456789abcdefghij"

func TestServeListenError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	err = runServe(b.ctx, serveOptions{DB: b.db, Addr: ln.Addr().String()}, io.Discard, io.Discard)
	require.ErrorContains(t, err, "listen on "+ln.Addr().String())
}
