package api

import (
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Defaults for [Config].
const (
	// DefaultBasePath is where the Web API is served, as in Dataverse.
	DefaultBasePath = "/api/data/v9.2"
	// DefaultTokenPath is the OAuth 2.0 token endpoint.
	DefaultTokenPath = "/oauth2/token"
	// DefaultCatalogPath is where catalog discovery is served.
	DefaultCatalogPath = "/api/catalogs"
	// DefaultMaxBodyBytes bounds a request body.
	DefaultMaxBodyBytes = 4 << 20
	// DefaultRequestTimeout bounds the time a request may take in the engine.
	DefaultRequestTimeout = 30 * time.Second
	// DefaultMaxPageSize is the largest page RetrieveMultiple returns, and
	// the cap on a "Prefer: odata.maxpagesize"; Dataverse's limit.
	DefaultMaxPageSize = 5000
)

// Config configures a [Handler].
type Config struct {
	// BasePath is the path of the Web API's service root: it starts with
	// "/" and does not end with one. Default [DefaultBasePath].
	BasePath string
	// TokenPath is the path of the OAuth 2.0 token endpoint. Default
	// [DefaultTokenPath].
	TokenPath string
	// CatalogPath is the path of catalog discovery (GET, see the package
	// documentation), outside BasePath. Default [DefaultCatalogPath].
	CatalogPath string
	// PublicURL is the scheme, host and optional path prefix clients reach
	// the server at, e.g. "https://events.contoso.com", used in
	// OData-EntityId, @odata.context and @odata.nextLink. Default: from
	// each request, "http://" or "https://" and its Host header.
	PublicURL string
	// MaxBodyBytes bounds a request body; a larger one is 413
	// request_too_large. Default [DefaultMaxBodyBytes].
	MaxBodyBytes int64
	// RequestTimeout is the deadline of a request's context. Default
	// [DefaultRequestTimeout].
	RequestTimeout time.Duration
	// RateLimit is how many requests per second each caller may make on
	// average (a token bucket per user, and per client id at the token
	// endpoint); more are 429 rate_limited with Retry-After. Default 0:
	// no limit.
	RateLimit float64
	// Burst is how many requests a caller may make at once above the
	// RateLimit. Default: RateLimit rounded up, at least 1.
	Burst int
	// MaxPageSize caps the page size of RetrieveMultiple. Default
	// [DefaultMaxPageSize].
	MaxPageSize int
	// Logger receives errors at error level and each request at debug
	// level. Default: discard.
	Logger *slog.Logger
	// Now returns the current time, for the rate limiter and durations.
	// Default time.Now.
	Now func() time.Time
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.BasePath == "" {
		c.BasePath = DefaultBasePath
	}
	if c.TokenPath == "" {
		c.TokenPath = DefaultTokenPath
	}
	if c.CatalogPath == "" {
		c.CatalogPath = DefaultCatalogPath
	}
	c.PublicURL = strings.TrimSuffix(c.PublicURL, "/")
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.RateLimit > 0 && c.Burst == 0 {
		c.Burst = max(1, int(c.RateLimit+0.999999))
	}
	if c.MaxPageSize == 0 {
		c.MaxPageSize = DefaultMaxPageSize
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports every problem of a defaulted configuration at once.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	for _, p := range []struct{ name, path string }{{"base path", c.BasePath}, {"token path", c.TokenPath}, {"catalog path", c.CatalogPath}} {
		if len(p.path) < 2 || !strings.HasPrefix(p.path, "/") || strings.HasSuffix(p.path, "/") || strings.ContainsAny(p.path, "?#") {
			bad("%s %q must start with / and not end with one", p.name, p.path)
		}
	}
	if c.TokenPath == c.BasePath || strings.HasPrefix(c.TokenPath, c.BasePath+"/") {
		bad("token path %q must be outside the base path %q", c.TokenPath, c.BasePath)
	}
	inside := func(p, root string) bool { return p == root || strings.HasPrefix(p, root+"/") }
	if inside(c.CatalogPath, c.BasePath) || inside(c.BasePath, c.CatalogPath) || inside(c.CatalogPath, c.TokenPath) || inside(c.TokenPath, c.CatalogPath) {
		bad("catalog path %q must be apart from the base path %q and the token path %q", c.CatalogPath, c.BasePath, c.TokenPath)
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
			bad("public URL %q must be an absolute http or https URL without query", c.PublicURL)
		}
	}
	if c.MaxBodyBytes < 0 {
		bad("max body bytes %d must be positive", c.MaxBodyBytes)
	}
	if c.RequestTimeout < 0 {
		bad("request timeout %s must be positive", c.RequestTimeout)
	}
	if c.RateLimit < 0 {
		bad("rate limit %g must be positive, or 0 for none", c.RateLimit)
	}
	if c.Burst < 0 || (c.RateLimit > 0 && c.Burst == 0) {
		bad("burst %d must be positive", c.Burst)
	}
	if c.MaxPageSize < 0 {
		bad("max page size %d must be positive", c.MaxPageSize)
	}
	if c.Logger == nil || c.Now == nil {
		bad("logger and now must be set; use WithDefaults")
	}
	return errors.Join(errs...)
}
