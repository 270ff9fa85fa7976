package security

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/pipeline"
)

// Header names Authenticate reads.
const (
	HeaderAuthorization = "Authorization"
	HeaderAPIKey        = "X-Api-Key"
)

// Authenticator checks credentials and issues access tokens. It is safe for
// concurrent use.
type Authenticator struct {
	cfg     Config
	keys    []tokenKey // keys[0] signs
	apiKeys []apiKey
	clients map[string]client
}

type apiKey struct {
	name   string
	sum    [sha256.Size]byte
	userID uuid.UUID
}

type client struct {
	hash   secretHash
	userID uuid.UUID
}

// New returns an Authenticator for cfg, defaulted and validated.
func New(cfg Config) (*Authenticator, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("security config: %w", err)
	}
	a := &Authenticator{cfg: cfg, clients: make(map[string]client, len(cfg.Clients))}
	for _, k := range cfg.TokenKeys {
		a.keys = append(a.keys, newTokenKey(k))
	}
	for _, k := range cfg.APIKeys {
		a.apiKeys = append(a.apiKeys, apiKey{name: k.Name, sum: sha256.Sum256([]byte(k.Key)), userID: k.UserID})
	}
	for _, c := range cfg.Clients {
		h, _ := parseHash(c.SecretHash) // checked by Validate
		a.clients[c.ID] = client{hash: h, userID: c.UserID}
	}
	return a, nil
}

// IssueToken checks a client's credentials (client credentials grant) and
// returns a new access token for its user. scope may be empty, the
// Audience, or any "<resource>/.default" scope (what Dataverse clients
// send); anything else is ErrInvalidScope. Bad credentials are
// ErrInvalidClient, without saying whether the id or the secret was wrong.
//
// Checking the secret costs a PBKDF2 hash (tens of milliseconds): clients
// are meant to keep their token until it nearly expires.
func (a *Authenticator) IssueToken(ctx context.Context, clientID, secret, scope string) (Token, error) {
	if err := ctx.Err(); err != nil {
		return Token{}, err
	}
	if scope != "" && scope != a.cfg.Audience && !strings.HasSuffix(scope, "/.default") {
		return Token{}, fail(InvalidScope, fmt.Sprintf("scope %q is not granted; ask for %q or a \"/.default\" scope", scope, a.cfg.Audience))
	}
	// Why no dummy hash for an unknown client: client ids are not secret,
	// and a dummy hash would let anyone burn CPU with made-up ids.
	c, ok := a.clients[clientID]
	if !ok || !c.hash.matches(secret) {
		return Token{}, ErrInvalidClient
	}
	now := a.cfg.Now()
	exp := now.Add(a.cfg.TokenTTL)
	tok := a.keys[0].sign(claims{
		Subject:  c.userID.String(),
		ClientID: clientID,
		Audience: a.cfg.Audience,
		IssuedAt: now.Unix(),
		Expires:  exp.Unix(),
	})
	return Token{AccessToken: tok, ExpiresIn: int64(a.cfg.TokenTTL / time.Second), TokenType: "Bearer"}, nil
}

// Authenticate returns the caller of an HTTP request from
// "Authorization: Bearer <access token or API key>" or "X-Api-Key: <API
// key>". Errors are *Error with code unauthenticated: ErrNoCredentials when
// there are none, ErrBadCredentials for another scheme or both headers,
// ErrInvalidToken, ErrTokenExpired or ErrInvalidAPIKey.
func (a *Authenticator) Authenticate(r *http.Request) (pipeline.Caller, error) {
	authz := r.Header.Get(HeaderAuthorization)
	key := r.Header.Get(HeaderAPIKey)
	switch {
	case authz != "" && key != "":
		return pipeline.Caller{}, fail(BadCredentials, "send either Authorization or X-Api-Key, not both")
	case key != "":
		return a.apiKey(key)
	case authz == "":
		return pipeline.Caller{}, ErrNoCredentials
	}
	scheme, cred, _ := strings.Cut(authz, " ")
	cred = strings.TrimSpace(cred)
	if !strings.EqualFold(scheme, "Bearer") || cred == "" {
		return pipeline.Caller{}, fail(BadCredentials, `the Authorization header must be "Bearer <token or API key>"`)
	}
	// A JWT has exactly two dots; API keys from NewAPIKey have none.
	if strings.Count(cred, ".") == 2 {
		return a.token(cred)
	}
	return a.apiKey(cred)
}

func (a *Authenticator) apiKey(key string) (pipeline.Caller, error) {
	sum := sha256.Sum256([]byte(key))
	var user uuid.UUID
	found := 0
	// Compare with every key, without stopping at a match, so the time
	// taken says nothing about which key matched.
	for i := range a.apiKeys {
		eq := subtle.ConstantTimeCompare(sum[:], a.apiKeys[i].sum[:])
		if eq == 1 {
			user = a.apiKeys[i].userID
		}
		found |= eq
	}
	if found == 0 {
		return pipeline.Caller{}, ErrInvalidAPIKey
	}
	return caller(user), nil
}

func (a *Authenticator) token(tok string) (pipeline.Caller, error) {
	c, err := verify(tok, a.keys)
	if err != nil {
		return pipeline.Caller{}, err
	}
	if c.Audience != a.cfg.Audience {
		return pipeline.Caller{}, fail(InvalidToken, "the access token is for another audience")
	}
	now := a.cfg.Now()
	if now.Unix() >= c.Expires {
		return pipeline.Caller{}, ErrTokenExpired
	}
	if time.Unix(c.IssuedAt, 0).After(now.Add(issuedAtLeeway)) {
		return pipeline.Caller{}, fail(InvalidToken, "the access token is issued in the future")
	}
	user, err := uuid.Parse(c.Subject)
	if err != nil {
		return pipeline.Caller{}, ErrInvalidToken
	}
	// Stateless, yet revocable: the client must still exist and still run
	// as the same user.
	cl, ok := a.clients[c.ClientID]
	if !ok || cl.userID != user {
		return pipeline.Caller{}, fail(InvalidToken, "the access token's client is no longer configured")
	}
	return caller(user), nil
}

func caller(user uuid.UUID) pipeline.Caller {
	return pipeline.Caller{UserID: user, InitiatingUserID: user}
}
