package api_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/api"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/security"
)

func TestBodyErrors(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *api.Config) { c.MaxBodyBytes = 64 })
	tests := []struct {
		name, body string
		headers    []string
		status     int
		code       errcode.Code
	}{
		{"malformed", `{"name":`, nil, 400, errcode.InvalidArgument},
		{"array", `[{"name":"x"}]`, nil, 400, errcode.InvalidArgument},
		{"string", `"x"`, nil, 400, errcode.InvalidArgument},
		{"null", `null`, nil, 400, errcode.InvalidArgument},
		{"trailing garbage", `{"name":"x"} {}`, nil, 400, errcode.InvalidArgument},
		{"trailing text", `{"name":"x"}x`, nil, 400, errcode.InvalidArgument},
		{"invalid utf-8", "{\"name\":\"\xff\xfe\"}", nil, 400, errcode.InvalidArgument},
		{"duplicate name", `{"name":"a","name":"b"}`, nil, 400, errcode.InvalidArgument},
		{"too large", `{"name":"` + strings.Repeat("x", 100) + `"}`, nil, 413, errcode.RequestTooLarge},
		{"content type", `{}`, []string{"Content-Type", "text/plain"}, 400, errcode.InvalidArgument},
	}
	for _, tt := range tests {
		for _, target := range []struct{ method, path string }{
			{http.MethodPost, "/accounts"},
			{http.MethodPatch, "/accounts(" + rowID.String() + ")"},
			{http.MethodPost, "/contoso_Purchase"},
		} {
			t.Run(tt.name+" "+target.method+target.path, func(t *testing.T) {
				t.Parallel()
				r := f.do(t, target.method, base+target.path, tt.body, tt.headers...)
				require.Equal(t, tt.status, r.status, string(r.body))
				require.Equal(t, tt.code, r.errorCode(t))
			})
		}
	}
	// Cleanup runs once the parallel subtests are done.
	t.Cleanup(func() { require.Zero(t, f.svc.count(), "bad bodies never reach the engine") })
}

func TestBodyTooLargeWithoutLength(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *api.Config) { c.MaxBodyBytes = 64 })
	body := io.NopCloser(strings.NewReader(`{"name":"` + strings.Repeat("x", 100) + `"}`)) // no length: chunked
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+base+"/accounts", body)
	require.NoError(t, err)
	req.Header.Set("X-Api-Key", apiKey)
	resp, err := f.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	require.Equal(t, "request_too_large", resp.Header.Get("X-Bizevents-Error-Code"))
	require.Zero(t, f.svc.count())
}

func TestErrorRendering(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		err    error
		status int
		code   errcode.Code
		hex    string
	}{
		{"invalid value", coded{errcode.InvalidValue, "column revenue: not a number"}, 400, errcode.InvalidValue, "0x80048d19"},
		{"handler failed", fmtErr(coded{errcode.HandlerFailed, "credit limit exceeded"}), 400, errcode.HandlerFailed, "0x80044150"},
		{"duplicate", coded{errcode.Duplicate, "exists"}, 409, errcode.Duplicate, "0x80040237"},
		{"not found", coded{errcode.NotFound, "no such row"}, 404, errcode.NotFound, "0x80040217"},
		{"depth", coded{errcode.DepthExceeded, "loop"}, 508, errcode.DepthExceeded, "0x80be0008"},
		{"forbidden", coded{errcode.Forbidden, "no"}, 403, errcode.Forbidden, "0x80040220"},
		{"canceled", context.Canceled, 499, errcode.Canceled, "0x80be0007"},
		{"internal", errors.New("pq: connection refused at 10.0.0.7"), 500, errcode.Internal, "0x80040216"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			f := setup(t)
			f.svc.set(func(context.Context, pipeline.Request) (pipeline.Response, error) { return pipeline.Response{}, tt.err })
			reqID := uuid.New()
			r := f.do(t, http.MethodPost, base+"/contoso_Purchase", `{}`, "X-Ms-Client-Request-Id", reqID.String())
			require.Equal(t, tt.status, r.status, string(r.body))
			require.Equal(t, tt.code, r.errorCode(t))
			require.Equal(t, tt.hex, r.json(t)["error"].(map[string]any)["code"])
			if tt.code == errcode.Internal {
				require.NotContains(t, string(r.body), "10.0.0.7", "internal details stay in the log")
				require.Contains(t, r.message(t), reqID.String(), "the message gives the request id to quote")
				require.Contains(t, f.logs.String(), "10.0.0.7")
				require.Contains(t, f.logs.String(), reqID.String())
			} else {
				require.Equal(t, tt.err.Error(), r.message(t))
			}
		})
	}
}

func fmtErr(err error) error { return &wrapped{err} }

type wrapped struct{ err error }

func (w *wrapped) Error() string { return w.err.Error() }
func (w *wrapped) Unwrap() error { return w.err }

func TestAuthentication(t *testing.T) {
	t.Parallel()
	f := setup(t)
	path := base + "/accounts(" + rowID.String() + ")"

	// An expired token: issued by the same keys two hours ago.
	past := f.secCfg
	past.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	old, err := security.New(past)
	require.NoError(t, err)
	expired, err := old.IssueToken(context.Background(), clientID, clientSecret, "")
	require.NoError(t, err)

	tests := []struct {
		name      string
		headers   []string
		challenge string
	}{
		{"none", []string{"X-Api-Key", ""}, `Bearer realm="bizevents"`},
		{"bad key", []string{"X-Api-Key", "bze_not-a-key-not-a-key-not-a-key"}, `Bearer realm="bizevents", error="invalid_token"`},
		{"bad bearer", []string{"X-Api-Key", "", "Authorization", "Bearer a.b.c"}, `Bearer realm="bizevents", error="invalid_token"`},
		{"expired token", []string{"X-Api-Key", "", "Authorization", "Bearer " + expired.AccessToken}, `Bearer realm="bizevents", error="invalid_token"`},
		{"basic", []string{"X-Api-Key", "", "Authorization", "Basic ZXJwOmVycC1zZWNyZXQ="}, `Bearer realm="bizevents", error="invalid_token"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.do(t, http.MethodGet, path, "", tt.headers...)
			require.Equal(t, http.StatusUnauthorized, r.status, string(r.body))
			require.Equal(t, errcode.Unauthenticated, r.errorCode(t))
			require.Equal(t, tt.challenge, r.header.Get("WWW-Authenticate"))
		})
	}
	r := f.do(t, http.MethodGet, path, "", "X-Api-Key", "", "Authorization", "Bearer "+expired.AccessToken)
	require.Contains(t, r.message(t), "expired")

	// A token from the token endpoint and the API key as a bearer work.
	tr := f.token(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}})
	require.Equal(t, http.StatusOK, tr.status, string(tr.body))
	tok := tr.json(t)["access_token"].(string)
	r = f.do(t, http.MethodGet, path, "", "X-Api-Key", "", "Authorization", "Bearer "+tok)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, f.appUser, f.svc.last(t).Caller.UserID)
	r = f.do(t, http.MethodGet, path, "", "X-Api-Key", "", "Authorization", "Bearer "+apiKey)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, f.keyUser, f.svc.last(t).Caller.UserID)
	require.Equal(t, f.keyUser, f.svc.last(t).Caller.InitiatingUserID)
	require.Equal(t, 2, f.svc.count(), "unauthenticated requests never reach the engine")
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	clk := &clock{now: whenTime}
	f := setup(t, func(c *api.Config) { c.RateLimit, c.Burst, c.Now = 0.5, 2, clk.Now })
	path := base + "/accounts(" + rowID.String() + ")"
	for range 2 {
		require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, path, "").status)
	}
	r := f.do(t, http.MethodGet, path, "")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, errcode.RateLimited, r.errorCode(t))
	require.Equal(t, "2", r.header.Get("Retry-After"), "one token every two seconds")

	// Another caller has its own bucket.
	tr := f.token(t, url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}})
	require.Equal(t, http.StatusOK, tr.status, string(tr.body))
	r = f.do(t, http.MethodGet, path, "", "X-Api-Key", "", "Authorization", "Bearer "+tr.json(t)["access_token"].(string))
	require.Equal(t, http.StatusOK, r.status)

	clk.Add(1500 * time.Millisecond)
	r = f.do(t, http.MethodGet, path, "")
	require.Equal(t, http.StatusTooManyRequests, r.status)
	require.Equal(t, "1", r.header.Get("Retry-After"), "rounded up")
	clk.Add(500 * time.Millisecond)
	require.Equal(t, http.StatusOK, f.do(t, http.MethodGet, path, "").status)
	require.Equal(t, 4, f.svc.count())
}

func TestRequestIDs(t *testing.T) {
	t.Parallel()
	f := setup(t)
	corr, reqID := uuid.New(), uuid.New()
	r := f.do(t, http.MethodPost, base+"/contoso_Notify", `{}`,
		"X-Ms-Correlation-Request-Id", corr.String(), "X-Ms-Client-Request-Id", reqID.String())
	require.Equal(t, http.StatusNoContent, r.status)
	require.Equal(t, corr.String(), r.header.Get("X-Ms-Correlation-Request-Id"))
	require.Equal(t, reqID.String(), r.header.Get("X-Ms-Client-Request-Id"))
	req := f.svc.last(t)
	require.Equal(t, corr, req.CorrelationID)
	require.Equal(t, reqID, req.RequestID)

	// Missing or not UUIDs: made up, echoed and given to the engine.
	r = f.do(t, http.MethodPost, base+"/contoso_Notify", `{}`, "X-Ms-Client-Request-Id", "abc")
	req = f.svc.last(t)
	require.NotEqual(t, uuid.Nil, req.CorrelationID)
	require.NotEqual(t, uuid.Nil, req.RequestID)
	require.Equal(t, req.CorrelationID.String(), r.header.Get("X-Ms-Correlation-Request-Id"))
	require.Equal(t, req.RequestID.String(), r.header.Get("X-Ms-Client-Request-Id"))

	// Errors carry them too, even before authentication.
	r = f.do(t, http.MethodGet, base+"/accounts", "", "X-Api-Key", "", "X-Ms-Correlation-Request-Id", corr.String())
	require.Equal(t, http.StatusUnauthorized, r.status)
	require.Equal(t, corr.String(), r.header.Get("X-Ms-Correlation-Request-Id"))
	require.NotEmpty(t, r.header.Get("X-Ms-Client-Request-Id"))
}

func TestRequestTimeout(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *api.Config) { c.RequestTimeout = 20 * time.Millisecond })
	f.svc.set(func(ctx context.Context, _ pipeline.Request) (pipeline.Response, error) {
		if _, ok := ctx.Deadline(); !ok {
			return pipeline.Response{}, errors.New("no deadline")
		}
		<-ctx.Done()
		return pipeline.Response{}, ctx.Err()
	})
	r := f.do(t, http.MethodPost, base+"/contoso_Notify", `{}`)
	require.Equal(t, 499, r.status, string(r.body))
	require.Equal(t, errcode.Canceled, r.errorCode(t))
}

func TestConfig(t *testing.T) {
	t.Parallel()
	d := api.Config{}.WithDefaults()
	require.NoError(t, d.Validate())
	require.Equal(t, api.DefaultBasePath, d.BasePath)
	require.Equal(t, "/oauth2/token", d.TokenPath)
	require.EqualValues(t, 4<<20, d.MaxBodyBytes)
	require.Equal(t, 30*time.Second, d.RequestTimeout)
	require.Zero(t, d.RateLimit)
	require.Equal(t, 3, api.Config{RateLimit: 2.5}.WithDefaults().Burst)

	bad := api.Config{BasePath: "api/", TokenPath: "/api/data/v9.2/token", PublicURL: "ftp://x", MaxBodyBytes: -1, RateLimit: -1}.WithDefaults()
	err := bad.Validate()
	require.Error(t, err)
	for _, want := range []string{"base path", "public URL", "max body bytes", "rate limit"} {
		require.Contains(t, err.Error(), want)
	}
	_, err = api.New(api.Deps{}, api.Config{})
	require.Error(t, err)
}

func TestPublicURL(t *testing.T) {
	t.Parallel()
	f := setup(t, func(c *api.Config) { c.PublicURL = "https://events.contoso.com/" })
	r := f.do(t, http.MethodPost, base+"/accounts", `{"name":"x"}`)
	require.Equal(t, http.StatusNoContent, r.status)
	require.Equal(t, "https://events.contoso.com"+base+"/accounts("+newID.String()+")", r.header.Get("OData-EntityId"))
}
