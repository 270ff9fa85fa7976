package security_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/security"
)

const (
	clientID     = "erp"
	clientSecret = "s3cret-of-the-erp"
	apiKeyValue  = "bze_0123456789abcdefghijklmnopqrstuvwxyz"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

type bundle struct {
	auth   *security.Authenticator
	cfg    security.Config
	user   uuid.UUID
	keyUsr uuid.UUID
	now    *time.Time
}

// setup returns an authenticator with one client, one API key and one
// token key, on a clock the test moves.
func setup(t *testing.T, edit ...func(*security.Config)) *bundle {
	t.Helper()
	b := &bundle{user: uuid.New(), keyUsr: uuid.New(), now: new(time.Time)}
	*b.now = t0
	b.cfg = security.Config{
		Clients:   []security.Client{{ID: clientID, SecretHash: security.HashSecretIterations(clientSecret, 1000), UserID: b.user}},
		APIKeys:   []security.APIKey{{Name: "pos", Key: apiKeyValue, UserID: b.keyUsr}},
		TokenKeys: [][]byte{[]byte("0123456789abcdef0123456789abcdef")},
		Now:       func() time.Time { return *b.now },
	}
	for _, e := range edit {
		e(&b.cfg)
	}
	var err error
	b.auth, err = security.New(b.cfg)
	require.NoError(t, err)
	return b
}

func bearer(v string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	r.Header.Set("Authorization", "Bearer "+v)
	return r
}

func TestTokenRoundTrip(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok, err := b.auth.IssueToken(context.Background(), clientID, clientSecret, "https://example.test/.default")
	require.NoError(t, err)
	require.Equal(t, "Bearer", tok.TokenType)
	require.EqualValues(t, 3600, tok.ExpiresIn)
	require.Equal(t, 2, strings.Count(tok.AccessToken, "."))

	c, err := b.auth.Authenticate(bearer(tok.AccessToken))
	require.NoError(t, err)
	require.Equal(t, b.user, c.UserID)
	require.Equal(t, b.user, c.InitiatingUserID)

	// The claims are what the package doc says.
	payload, err := base64.RawURLEncoding.DecodeString(strings.Split(tok.AccessToken, ".")[1])
	require.NoError(t, err)
	require.JSONEq(t, `{"sub":"`+b.user.String()+`","client_id":"erp","aud":"bizevents","iat":`+
		itoa(t0.Unix())+`,"exp":`+itoa(t0.Add(time.Hour).Unix())+`}`, string(payload))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestTokenExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *security.Config) { c.TokenTTL = 10 * time.Minute })
	tok, err := b.auth.IssueToken(context.Background(), clientID, clientSecret, "")
	require.NoError(t, err)
	require.EqualValues(t, 600, tok.ExpiresIn)

	*b.now = t0.Add(10*time.Minute - time.Second)
	_, err = b.auth.Authenticate(bearer(tok.AccessToken))
	require.NoError(t, err)

	*b.now = t0.Add(10 * time.Minute)
	_, err = b.auth.Authenticate(bearer(tok.AccessToken))
	require.ErrorIs(t, err, security.ErrTokenExpired)
	require.Equal(t, errcode.Unauthenticated, errcode.Of(err))

	// A token from the future (a clock far ahead) is refused too.
	*b.now = t0.Add(-time.Hour)
	_, err = b.auth.Authenticate(bearer(tok.AccessToken))
	require.ErrorIs(t, err, security.ErrInvalidToken)
}

func TestTamperedToken(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok, err := b.auth.IssueToken(context.Background(), clientID, clientSecret, "")
	require.NoError(t, err)
	parts := strings.Split(tok.AccessToken, ".")
	enc := base64.RawURLEncoding

	other := uuid.New().String()
	payload, err := enc.DecodeString(parts[1])
	require.NoError(t, err)
	forgedPayload := enc.EncodeToString([]byte(strings.Replace(string(payload), b.user.String(), other, 1)))
	sig, err := enc.DecodeString(parts[2])
	require.NoError(t, err)
	sig[0] ^= 1
	none := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))

	tests := []struct {
		name, token string
	}{
		{"signature", parts[0] + "." + parts[1] + "." + enc.EncodeToString(sig)},
		{"payload", parts[0] + "." + forgedPayload + "." + parts[2]},
		{"alg none", none + "." + parts[1] + "."},
		{"no signature", parts[0] + "." + parts[1] + "."},
		{"garbage", "a.b.c"},
		{"too long", parts[0] + "." + strings.Repeat("A", 5000) + "." + parts[2]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.auth.Authenticate(bearer(tt.token))
			require.ErrorIs(t, err, security.ErrInvalidToken)
		})
	}
}

func TestIssueTokenRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name, client, secret, scope string
		want                        error
	}{
		{"wrong secret", clientID, "not-the-secret", "", security.ErrInvalidClient},
		{"unknown client", "nobody", clientSecret, "", security.ErrInvalidClient},
		{"empty secret", clientID, "", "", security.ErrInvalidClient},
		{"bad scope", clientID, clientSecret, "openid", security.ErrInvalidScope},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.auth.IssueToken(context.Background(), tt.client, tt.secret, tt.scope)
			require.ErrorIs(t, err, tt.want)
			require.Equal(t, errcode.Unauthenticated, errcode.Of(err))
			require.NotContains(t, err.Error(), clientSecret)
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := b.auth.IssueToken(ctx, clientID, clientSecret, "")
	require.ErrorIs(t, err, context.Canceled)
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	oldKey := []byte("old-old-old-old-old-old-old-old-")
	newKey := []byte("new-new-new-new-new-new-new-new-")
	before := setup(t, func(c *security.Config) { c.TokenKeys = [][]byte{oldKey} })
	during := setup(t, func(c *security.Config) {
		c.TokenKeys = [][]byte{newKey, oldKey}
		c.Clients = before.cfg.Clients
		c.Now = before.cfg.Now
	})
	after := setup(t, func(c *security.Config) {
		c.TokenKeys = [][]byte{newKey}
		c.Clients = before.cfg.Clients
		c.Now = before.cfg.Now
	})

	oldTok, err := before.auth.IssueToken(context.Background(), clientID, clientSecret, "")
	require.NoError(t, err)
	newTok, err := during.auth.IssueToken(context.Background(), clientID, clientSecret, "")
	require.NoError(t, err)

	// The old key still verifies while rotating.
	_, err = during.auth.Authenticate(bearer(oldTok.AccessToken))
	require.NoError(t, err)
	// The new key signs: the old configuration does not know it ...
	_, err = before.auth.Authenticate(bearer(newTok.AccessToken))
	require.ErrorIs(t, err, security.ErrInvalidToken)
	// ... and once the old key is gone, only new tokens pass.
	_, err = after.auth.Authenticate(bearer(newTok.AccessToken))
	require.NoError(t, err)
	_, err = after.auth.Authenticate(bearer(oldTok.AccessToken))
	require.ErrorIs(t, err, security.ErrInvalidToken)
}

func TestTokenOfRemovedClientOrOtherAudience(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tok, err := b.auth.IssueToken(context.Background(), clientID, clientSecret, "")
	require.NoError(t, err)

	removed := setup(t, func(c *security.Config) {
		c.Clients = []security.Client{{ID: "other", SecretHash: b.cfg.Clients[0].SecretHash, UserID: b.user}}
		c.Now = b.cfg.Now
	})
	_, err = removed.auth.Authenticate(bearer(tok.AccessToken))
	require.ErrorIs(t, err, security.ErrInvalidToken)

	otherAud := setup(t, func(c *security.Config) {
		c.Audience = "elsewhere"
		c.Clients = b.cfg.Clients
		c.Now = b.cfg.Now
	})
	_, err = otherAud.auth.Authenticate(bearer(tok.AccessToken))
	require.ErrorIs(t, err, security.ErrInvalidToken)
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	tests := []struct {
		name    string
		headers map[string]string
		user    uuid.UUID
		want    error
	}{
		{"bearer api key", map[string]string{"Authorization": "Bearer " + apiKeyValue}, b.keyUsr, nil},
		{"scheme case", map[string]string{"Authorization": "bearer " + apiKeyValue}, b.keyUsr, nil},
		{"x-api-key", map[string]string{"X-Api-Key": apiKeyValue}, b.keyUsr, nil},
		{"wrong api key", map[string]string{"X-Api-Key": apiKeyValue + "x"}, uuid.Nil, security.ErrInvalidAPIKey},
		{"wrong bearer key", map[string]string{"Authorization": "Bearer nope"}, uuid.Nil, security.ErrInvalidAPIKey},
		{"none", nil, uuid.Nil, security.ErrNoCredentials},
		{"basic", map[string]string{"Authorization": "Basic " + apiKeyValue}, uuid.Nil, security.ErrBadCredentials},
		{"empty bearer", map[string]string{"Authorization": "Bearer "}, uuid.Nil, security.ErrBadCredentials},
		{"both", map[string]string{"Authorization": "Bearer " + apiKeyValue, "X-Api-Key": apiKeyValue}, uuid.Nil, security.ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			for k, v := range tt.headers {
				r.Header.Set(k, v)
			}
			c, err := b.auth.Authenticate(r)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				require.Equal(t, errcode.Unauthenticated, errcode.Of(err))
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.user, c.UserID)
			require.Equal(t, tt.user, c.InitiatingUserID)
		})
	}
}

func TestHashSecret(t *testing.T) {
	t.Parallel()
	secret := security.NewClientSecret()
	h := security.HashSecret(secret)
	require.True(t, strings.HasPrefix(h, "pbkdf2-sha256$600000$"), h)
	require.NotEqual(t, security.HashSecretIterations(secret, 1), security.HashSecretIterations(secret, 1), "each hash has its own salt")
	user := uuid.New()
	a, err := security.New(security.Config{
		Clients:   []security.Client{{ID: "c", SecretHash: h, UserID: user}},
		TokenKeys: [][]byte{security.NewTokenKey()},
	})
	require.NoError(t, err)
	_, err = a.IssueToken(context.Background(), "c", secret, "")
	require.NoError(t, err)
}

func TestNewAPIKey(t *testing.T) {
	t.Parallel()
	k := security.NewAPIKey()
	require.True(t, strings.HasPrefix(k, "bze_"))
	require.GreaterOrEqual(t, len(k), security.MinAPIKeyLength)
	require.NotEqual(t, k, security.NewAPIKey())
	require.NotContains(t, k, ".", "an API key must not look like a JWT")
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	user := uuid.New()
	good := security.HashSecretIterations("x", 1)
	tests := []struct {
		name string
		cfg  security.Config
		want []string // substrings of the error; none for a valid config
	}{
		{"empty", security.Config{}, nil},
		{"short token key", security.Config{TokenKeys: [][]byte{[]byte("short")}}, []string{"token key 0 is 5 bytes"}},
		{"ttl", security.Config{TokenTTL: 48 * time.Hour}, []string{"token TTL 48h0m0s"}},
		{"client without key", security.Config{Clients: []security.Client{{ID: "c", SecretHash: good, UserID: user}}}, []string{"need a token key"}},
		{"bad clients", security.Config{
			TokenKeys: [][]byte{security.NewTokenKey()},
			Clients: []security.Client{
				{ID: "c", SecretHash: "plain", UserID: user},
				{ID: "c", SecretHash: good},
				{SecretHash: good, UserID: user},
			},
		}, []string{"client c: secret hash", "client c is defined twice", "client c needs a user id", "client 2 needs an id"}},
		{"bad api keys", security.Config{APIKeys: []security.APIKey{
			{Name: "a", Key: "short", UserID: user},
			{Name: "a", Key: apiKeyValue},
			{Key: apiKeyValue, UserID: user},
		}}, []string{"API key a is shorter", "API key a is defined twice", "API key a needs a user id", "API key 2 needs a name", "same key as another"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg := tt.cfg.WithDefaults()
			err := cfg.Validate()
			if len(tt.want) == 0 {
				require.NoError(t, err)
				_, err = security.New(tt.cfg)
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, w := range tt.want {
				require.Contains(t, err.Error(), w)
			}
			require.NotContains(t, err.Error(), apiKeyValue, "never quote a secret")
			_, err = security.New(tt.cfg)
			require.Error(t, err)
		})
	}
}
