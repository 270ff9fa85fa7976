package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/api"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/security"
	"github.com/bizevents/bizevents/engine/tables"
)

const (
	base         = "/api/data/v9.2"
	apiKey       = "bze_test-key-0123456789abcdefghijkl"
	clientID     = "erp"
	clientSecret = "erp-secret"
	// clientHash is security.HashSecret(clientSecret) with 1000 iterations,
	// so that tests do not wait for 600000.
	clientHash = "pbkdf2-sha256$1000$wDsN0ngFHfZ50kLAFn6u3w$P_SJSBrICKpS6OkFFirKwnUSLSh-X8cI-fv24S8zle8"
)

var tokenKey = []byte("test-token-key-test-token-key-!!")

// metadata is an in-test api.Metadata.
type metadata struct {
	tables map[string]*tables.Table
	apis   map[string]*customapi.API
}

func (m *metadata) TableByPlural(name string) (*tables.Table, bool) {
	t, ok := m.tables[name]
	return t, ok
}

func (m *metadata) Table(name string) (*tables.Table, bool) {
	for _, t := range m.tables {
		if t.LogicalName == name {
			return t, true
		}
	}
	return nil, false
}

func (m *metadata) CustomAPI(name string) (*customapi.API, bool) {
	a, ok := m.apis[name]
	return a, ok
}

func newMetadata() *metadata {
	account := tables.Table{LogicalName: "account", PluralName: "accounts", PrimaryName: "name", Columns: []tables.Column{
		{LogicalName: "name", Type: tables.String},
		{LogicalName: "revenue", Type: tables.Money},
		{LogicalName: "parentaccountid", Type: tables.Lookup, Target: "account"},
		{LogicalName: "primarycontactid", Type: tables.Lookup, Target: "contact"},
	}}.WithDefaults()
	contact := tables.Table{LogicalName: "contact", PluralName: "contacts", Columns: []tables.Column{
		{LogicalName: "fullname", Type: tables.String},
	}}.WithDefaults()
	apis := []customapi.API{
		{UniqueName: "contoso_Purchase", RequestParameters: []customapi.Parameter{{UniqueName: "Amount", Type: customapi.Decimal}},
			ResponseProperties: []customapi.Parameter{{UniqueName: "Total", Type: customapi.Decimal}, {UniqueName: "When", Type: customapi.DateTime}}},
		{UniqueName: "contoso_Notify", AllowedStepType: customapi.StepsAsyncOnly},
		{UniqueName: "contoso_Price", IsFunction: true, RequestParameters: []customapi.Parameter{
			{UniqueName: "Sku", Type: customapi.String}, {UniqueName: "Qty", Type: customapi.Integer}},
			ResponseProperties: []customapi.Parameter{{UniqueName: "Price", Type: customapi.Money}}},
		{UniqueName: "contoso_Close", Binding: customapi.TableBound, BoundTable: "account"},
		{UniqueName: "contoso_Count", Binding: customapi.TableCollection, BoundTable: "account", IsFunction: true,
			ResponseProperties: []customapi.Parameter{{UniqueName: "Count", Type: customapi.Integer}}},
		{UniqueName: "contoso_Hidden", IsPrivate: true},
	}
	m := &metadata{tables: map[string]*tables.Table{"accounts": &account, "contacts": &contact}, apis: map[string]*customapi.API{}}
	for i := range apis {
		a := apis[i].WithDefaults()
		m.apis[a.UniqueName] = &a
	}
	return m
}

// service is an in-test pipeline.Service: it records each request and
// answers with fn.
type service struct {
	mu   sync.Mutex
	reqs []pipeline.Request
	fn   func(ctx context.Context, req pipeline.Request) (pipeline.Response, error)
}

func (s *service) Execute(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	fn := s.fn
	s.mu.Unlock()
	if fn == nil {
		return answer(req)
	}
	return fn(ctx, req)
}

// set replaces the answers; nil restores the default.
func (s *service) set(fn func(ctx context.Context, req pipeline.Request) (pipeline.Response, error)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fn = fn
}

func (s *service) last(t *testing.T) pipeline.Request {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotEmpty(t, s.reqs, "the service was called")
	return s.reqs[len(s.reqs)-1]
}

func (s *service) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

var (
	newID    = uuid.MustParse("11111111-1111-1111-1111-111111111111")
	rowID    = uuid.MustParse("22222222-2222-2222-2222-222222222222")
	otherID  = uuid.MustParse("33333333-3333-3333-3333-333333333333")
	whenTime = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
)

// answer is the in-test engine: a row at version 3, two pages of rows.
func answer(req pipeline.Request) (pipeline.Response, error) {
	switch req.Message {
	case pipeline.Create:
		id := req.ID
		if id == uuid.Nil {
			id = newID
		}
		row := tables.Row{"accountid": id, "versionnumber": int64(1)}
		for k, v := range req.Target {
			row[k] = v
		}
		return pipeline.Response{ID: id, Row: row, Version: 1}, nil
	case pipeline.Retrieve:
		return pipeline.Response{ID: req.ID, Row: tables.Row{"accountid": req.ID, "name": "Contoso", "revenue": tables.Number("12.5"), "versionnumber": int64(3)}}, nil
	case pipeline.RetrieveMultiple:
		if req.Query.PageToken == "" {
			return pipeline.Response{Rows: []tables.Row{{"accountid": rowID, "name": "A", "versionnumber": int64(2)}}, More: true, PageToken: "page/2+"}, nil
		}
		return pipeline.Response{Rows: []tables.Row{{"accountid": otherID, "name": "B", "versionnumber": int64(5)}}}, nil
	case pipeline.Update, pipeline.Assign, pipeline.Delete:
		if req.ExpectedVersion > 0 && req.ExpectedVersion != 3 {
			return pipeline.Response{}, coded{errcode.VersionConflict, "row is at version 3"}
		}
		return pipeline.Response{ID: req.ID, Row: tables.Row{"accountid": req.ID, "name": "Renamed", "versionnumber": int64(4)}, Version: 4}, nil
	case "contoso_Purchase":
		return pipeline.Response{Output: map[string]any{"Total": tables.Number("10.25"), "When": whenTime}}, nil
	case "contoso_Price":
		return pipeline.Response{Output: map[string]any{"Price": tables.Number("3")}}, nil
	case "contoso_Count":
		return pipeline.Response{Output: map[string]any{"Count": int64(7)}}, nil
	}
	return pipeline.Response{}, nil
}

type coded struct {
	code errcode.Code
	msg  string
}

func (e coded) Error() string           { return e.msg }
func (e coded) ErrorCode() errcode.Code { return e.code }

// clock is a settable clock, safe for the server's goroutines.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// syncBuffer collects the handler's logs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type fixture struct {
	srv      *httptest.Server
	svc      *service
	keyUser  uuid.UUID
	appUser  uuid.UUID
	secCfg   security.Config
	clock    *clock
	logs     *syncBuffer
	handler  *api.Handler
	metadata *metadata
}

// setup serves the API on a real server, with the in-test engine, an API
// key and an OAuth client.
func setup(t *testing.T, edit ...func(*api.Config)) *fixture {
	t.Helper()
	f := &fixture{svc: &service{}, keyUser: uuid.New(), appUser: uuid.New(), clock: &clock{now: whenTime}, logs: &syncBuffer{}, metadata: newMetadata()}
	f.secCfg = security.Config{
		APIKeys:   []security.APIKey{{Name: "test", Key: apiKey, UserID: f.keyUser}},
		Clients:   []security.Client{{ID: clientID, SecretHash: clientHash, UserID: f.appUser}},
		TokenKeys: [][]byte{tokenKey},
	}
	auth, err := security.New(f.secCfg)
	require.NoError(t, err)
	cfg := api.Config{Logger: slog.New(slog.NewTextHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	for _, e := range edit {
		e(&cfg)
	}
	f.handler, err = api.New(api.Deps{Metadata: f.metadata, Service: f.svc, Auth: auth}, cfg)
	require.NoError(t, err)
	f.srv = httptest.NewServer(f.handler)
	t.Cleanup(f.srv.Close)
	return f
}

type result struct {
	status int
	header http.Header
	body   []byte
}

// json decodes the body as an object.
func (r result) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(r.body, &m), "body: %s", r.body)
	return m
}

// errorCode checks an error response's shape and returns its string code.
func (r result) errorCode(t *testing.T) errcode.Code {
	t.Helper()
	var e struct {
		Error struct {
			Code          string       `json:"code"`
			Message       string       `json:"message"`
			BizeventsCode errcode.Code `json:"bizeventsCode"`
		} `json:"error"`
	}
	require.NoError(t, json.Unmarshal(r.body, &e), "body: %s", r.body)
	entry, ok := errcode.Lookup(e.Error.BizeventsCode)
	require.True(t, ok, "known code %q", e.Error.BizeventsCode)
	require.Equal(t, entry.Hex, e.Error.Code)
	require.NotEmpty(t, e.Error.Message)
	require.Equal(t, string(e.Error.BizeventsCode), r.header.Get("X-Bizevents-Error-Code"))
	return e.Error.BizeventsCode
}

func (r result) message(t *testing.T) string {
	t.Helper()
	e, _ := r.json(t)["error"].(map[string]any)
	msg, _ := e["message"].(string)
	return msg
}

// do sends a request with the API key; headers are name, value pairs, and
// an empty value removes a header.
func (f *fixture) do(t *testing.T, method, path, body string, headers ...string) result {
	t.Helper()
	u := path
	if !strings.HasPrefix(u, "http") {
		u = f.srv.URL + path
	}
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", apiKey)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		if headers[i+1] == "" {
			req.Header.Del(headers[i])
		} else {
			req.Header.Set(headers[i], headers[i+1])
		}
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) token(t *testing.T, form url.Values, basic ...string) result {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+"/oauth2/token", strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return result{status: resp.StatusCode, header: resp.Header, body: b}
}
