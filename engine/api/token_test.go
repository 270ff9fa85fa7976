package api_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	f := setup(t)
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret},
		"scope": {"https://events.contoso.com/.default"}}

	r := f.token(t, good)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	require.Equal(t, "no-store", r.header.Get("Cache-Control"))
	body := r.json(t)
	require.Equal(t, "Bearer", body["token_type"])
	require.EqualValues(t, 3600, body["expires_in"])
	require.Equal(t, 2, strings.Count(body["access_token"].(string), "."))

	// HTTP Basic, the form-encoded way RFC 6749 asks.
	r = f.token(t, url.Values{"grant_type": {"client_credentials"}}, clientID, clientSecret)
	require.Equal(t, http.StatusOK, r.status, string(r.body))

	tests := []struct {
		name   string
		form   url.Values
		basic  []string
		status int
		oauth  string
	}{
		{"bad secret", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {"wrong"}}, nil, 401, "invalid_client"},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"x"}}, nil, 401, "invalid_client"},
		{"bad basic secret", url.Values{"grant_type": {"client_credentials"}}, []string{clientID, "wrong"}, 401, "invalid_client"},
		{"no grant", url.Values{"client_id": {clientID}, "client_secret": {clientSecret}}, nil, 400, "invalid_request"},
		{"other grant", url.Values{"grant_type": {"password"}, "client_id": {clientID}, "client_secret": {clientSecret}}, nil, 400, "unsupported_grant_type"},
		{"no client", url.Values{"grant_type": {"client_credentials"}}, nil, 400, "invalid_request"},
		{"two methods", good, []string{clientID, clientSecret}, 400, "invalid_request"},
		{"repeated", url.Values{"grant_type": {"client_credentials", "client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}}, nil, 400, "invalid_request"},
		{"bad scope", url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret}, "scope": {"openid"}}, nil, 400, "invalid_scope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := f.token(t, tt.form, tt.basic...)
			require.Equal(t, tt.status, r.status, string(r.body))
			body := r.json(t)
			require.Equal(t, tt.oauth, body["error"], string(r.body))
			require.NotEmpty(t, body["error_description"])
			require.NotContains(t, string(r.body), clientSecret)
			require.NotEmpty(t, r.header.Get("X-Bizevents-Error-Code"))
			if tt.basic != nil && tt.oauth == "invalid_client" {
				require.Equal(t, `Basic realm="bizevents"`, r.header.Get("WWW-Authenticate"))
			}
		})
	}

	// Only POST with a form.
	g := f.do(t, http.MethodGet, "/oauth2/token", "", "X-Api-Key", "")
	require.Equal(t, http.StatusMethodNotAllowed, g.status)
	require.Equal(t, "invalid_request", g.json(t)["error"])
	require.Equal(t, "POST", g.header.Get("Allow"))
	j := f.do(t, http.MethodPost, "/oauth2/token", `{"grant_type":"client_credentials"}`, "X-Api-Key", "")
	require.Equal(t, http.StatusBadRequest, j.status)
	require.Equal(t, "invalid_request", j.json(t)["error"])
}
