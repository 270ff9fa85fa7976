package security

import (
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
)

// Defaults and limits for [Config].
const (
	// DefaultTokenTTL is how long an access token is valid.
	DefaultTokenTTL = time.Hour
	// MaxTokenTTL bounds TokenTTL: a stolen token should not outlive a day.
	MaxTokenTTL = 24 * time.Hour
	// DefaultAudience is the "aud" claim of access tokens.
	DefaultAudience = "bizevents"
	// MinTokenKeyBytes is the shortest token key accepted: HS256 wants a
	// key at least as long as its hash.
	MinTokenKeyBytes = 32
	// MinAPIKeyLength is the shortest API key accepted, in bytes.
	MinAPIKeyLength = 24
)

// Config configures an [Authenticator].
type Config struct {
	// APIKeys are long-lived keys, sent as "Authorization: Bearer <key>"
	// or "X-Api-Key: <key>". Default: none.
	APIKeys []APIKey
	// Clients are the OAuth 2.0 clients that may get access tokens with
	// the client credentials grant. Default: none.
	Clients []Client
	// TokenKeys are the HMAC-SHA256 keys of access tokens, each at least
	// MinTokenKeyBytes long: the first signs new tokens, every one verifies.
	// Needed when there are Clients. Default: none.
	TokenKeys [][]byte
	// TokenTTL is how long an access token is valid, at most MaxTokenTTL.
	// Default DefaultTokenTTL.
	TokenTTL time.Duration
	// Audience is the "aud" claim tokens are issued for and must carry.
	// Default DefaultAudience.
	Audience string
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// APIKey is a key that authenticates as a user.
type APIKey struct {
	// Name identifies the key in logs and configuration; unique.
	Name string
	// Key is the secret, at least MinAPIKeyLength bytes; [NewAPIKey] makes
	// one.
	Key string
	// UserID is the user the key's requests run as.
	UserID uuid.UUID
}

// Client is an OAuth 2.0 client: an application user's credentials.
type Client struct {
	// ID is the client_id; unique.
	ID string
	// SecretHash is the client secret's hash from [HashSecret].
	SecretHash string
	// UserID is the user the client's requests run as.
	UserID uuid.UUID
	// Name describes the client; optional.
	Name string
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.TokenTTL == 0 {
		c.TokenTTL = DefaultTokenTTL
	}
	if c.Audience == "" {
		c.Audience = DefaultAudience
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem of a defaulted configuration at once. It
// never quotes a secret.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.TokenTTL <= 0 || c.TokenTTL > MaxTokenTTL {
		bad("token TTL %s must be positive and at most %s", c.TokenTTL, MaxTokenTTL)
	}
	for i, k := range c.TokenKeys {
		if len(k) < MinTokenKeyBytes {
			bad("token key %d is %d bytes; it needs at least %d", i, len(k), MinTokenKeyBytes)
		}
	}
	if len(c.Clients) > 0 && len(c.TokenKeys) == 0 {
		bad("clients need a token key to sign their access tokens")
	}
	names, keys := map[string]bool{}, map[string]bool{}
	for i, k := range c.APIKeys {
		switch {
		case k.Name == "":
			bad("API key %d needs a name", i)
		case names[k.Name]:
			bad("API key %s is defined twice", k.Name)
		}
		names[k.Name] = true
		if len(k.Key) < MinAPIKeyLength {
			bad("API key %s is shorter than %d bytes", k.Name, MinAPIKeyLength)
		} else if keys[k.Key] {
			bad("API key %s has the same key as another", k.Name)
		}
		keys[k.Key] = true
		if k.UserID == uuid.Nil {
			bad("API key %s needs a user id", k.Name)
		}
	}
	ids := map[string]bool{}
	for i, cl := range c.Clients {
		switch {
		case cl.ID == "":
			bad("client %d needs an id", i)
		case ids[cl.ID]:
			bad("client %s is defined twice", cl.ID)
		}
		ids[cl.ID] = true
		if _, err := parseHash(cl.SecretHash); err != nil {
			bad("client %s: secret hash: %w", cl.ID, err)
		}
		if cl.UserID == uuid.Nil {
			bad("client %s needs a user id", cl.ID)
		}
	}
	if c.Now == nil {
		bad("now must be set")
	}
	return errors.Join(errs...)
}
