package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/security"
	"github.com/bizevents/bizevents/engine/tables"
)

// Headers the API reads or writes.
const (
	// HeaderCorrelationID ties the messages of one business operation
	// together: taken from the request when it is a UUID, else made up,
	// and always in the response.
	HeaderCorrelationID = "X-Ms-Correlation-Request-Id"
	// HeaderRequestID identifies one request: taken from the request when it
	// is a UUID, else made up, and always in the response.
	HeaderRequestID = "X-Ms-Client-Request-Id"
	// HeaderIdempotencyKey, or HeaderIdempotencyKeyMSCRM, on a Create or an
	// action makes a retry with the same key return the first response.
	HeaderIdempotencyKey      = "Idempotency-Key"
	HeaderIdempotencyKeyMSCRM = "MSCRM.IdempotencyKey"
	// HeaderReplayed is "true" on a response that an idempotency key
	// replayed.
	HeaderReplayed = "Idempotent-Replayed"
	// HeaderErrorCode carries an error's stable string code.
	HeaderErrorCode = "X-Bizevents-Error-Code"
	// HeaderEntityID is the URL of the row a Create or Update wrote.
	HeaderEntityID = "OData-EntityId"
)

// Metadata finds the definitions the API serves. It is safe for
// concurrent use; the pipeline's definitions implement it.
type Metadata interface {
	// TableByPlural returns the table whose entity set (PluralName) is name.
	TableByPlural(name string) (*tables.Table, bool)
	// Table returns the table whose logical name is name.
	Table(name string) (*tables.Table, bool)
	// CustomAPI returns the custom API with the given unique name, private
	// ones included.
	CustomAPI(name string) (*customapi.API, bool)
}

// Authenticator checks credentials; *security.Authenticator implements
// it. It is safe for concurrent use.
type Authenticator interface {
	// Authenticate returns the caller of a request, or an error with code
	// unauthenticated.
	Authenticate(r *http.Request) (pipeline.Caller, error)
	// IssueToken runs the client credentials grant: an error with code
	// unauthenticated for bad credentials (security.ErrInvalidScope for a
	// scope it does not grant).
	IssueToken(ctx context.Context, clientID, secret, scope string) (security.Token, error)
}

var _ Authenticator = (*security.Authenticator)(nil)

// CatalogSource gives the catalogs discovery serves, as they are now.
// It is safe for concurrent use.
type CatalogSource interface {
	Catalogs(ctx context.Context) (*catalog.Index, error)
}

// CatalogSourceFunc adapts a function to a CatalogSource, e.g.
//
//	api.CatalogSourceFunc(func(ctx context.Context) (*catalog.Index, error) { return solution.Catalogs(ctx, db) })
type CatalogSourceFunc func(ctx context.Context) (*catalog.Index, error)

// Catalogs calls f.
func (f CatalogSourceFunc) Catalogs(ctx context.Context) (*catalog.Index, error) { return f(ctx) }

// Deps are what a Handler works with.
type Deps struct {
	Metadata Metadata
	// Service executes the messages; the pipeline's engine.
	Service pipeline.Service
	Auth    Authenticator
	// Catalogs serves catalog discovery at Config.CatalogPath; without
	// it, discovery answers not_found.
	Catalogs CatalogSource
}

// Handler serves the Dataverse Web API subset under Config.BasePath, the
// OAuth 2.0 token endpoint at Config.TokenPath and catalog discovery at
// Config.CatalogPath; anything else is 404. Mount it for each path, e.g.
// mux.Handle(cfg.BasePath+"/", h), mux.Handle(cfg.TokenPath, h),
// mux.Handle(cfg.CatalogPath, h) and mux.Handle(cfg.CatalogPath+"/", h).
// It is safe for concurrent use.
type Handler struct {
	deps    Deps
	cfg     Config
	log     *slog.Logger
	limiter *limiter // nil without a rate limit
}

// New returns a Handler; cfg is defaulted and validated.
func New(deps Deps, cfg Config) (*Handler, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("api config: %w", err)
	}
	if deps.Metadata == nil || deps.Service == nil || deps.Auth == nil {
		return nil, fmt.Errorf("api: metadata, service and authenticator are all needed")
	}
	h := &Handler{deps: deps, cfg: cfg, log: cfg.Logger.With(logKeyComponent, "api")}
	if cfg.RateLimit > 0 {
		h.limiter = newLimiter(cfg.RateLimit, cfg.Burst, cfg.Now)
	}
	return h, nil
}

// call is one request on its way through the handler.
type call struct {
	r             *http.Request
	requestID     uuid.UUID
	correlationID uuid.UUID
	caller        pipeline.Caller
	// idempotencyKey is the request's Idempotency-Key, POST only.
	idempotencyKey string
	token          bool // at the token endpoint: errors in RFC 6749's form
}

// ServeHTTP serves one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.cfg.Now()
	c := &call{
		r:             r,
		requestID:     idFromHeader(r, HeaderRequestID),
		correlationID: idFromHeader(r, HeaderCorrelationID),
	}
	sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
	hdr := sw.Header()
	hdr.Set(HeaderRequestID, c.requestID.String())
	hdr.Set(HeaderCorrelationID, c.correlationID.String())

	path := r.URL.Path
	switch {
	case path == h.cfg.TokenPath:
		c.token = true
		h.serveToken(sw, c)
	case path == h.cfg.BasePath || strings.HasPrefix(path, h.cfg.BasePath+"/"):
		hdr.Set("OData-Version", "4.0")
		h.serveData(sw, c)
	case path == h.cfg.CatalogPath || strings.HasPrefix(path, h.cfg.CatalogPath+"/"):
		h.serveCatalogs(sw, c)
	default:
		h.writeError(sw, c, errorf(errcode.NotFound, "nothing is served at %s; the Web API is under %s/", path, h.cfg.BasePath))
	}
	h.log.DebugContext(r.Context(), "request", logKeyMethod, r.Method, logKeyPath, path, logKeyStatus, sw.status,
		logKeyDuration, h.cfg.Now().Sub(start), logKeyRequestID, c.requestID, logKeyCorrelationID, c.correlationID,
		logKeyUser, c.caller.UserID)
}

// serveData authenticates, rate-limits and routes a Web API request.
func (h *Handler) serveData(w http.ResponseWriter, c *call) { h.admitted(w, c, h.route) }

// admitted authenticates and rate-limits a request, then serves it with
// serve under the request timeout, rendering its error.
func (h *Handler) admitted(w http.ResponseWriter, c *call, serve func(http.ResponseWriter, *call) error) {
	caller, err := h.deps.Auth.Authenticate(c.r)
	if err != nil {
		h.writeError(w, c, err)
		return
	}
	c.caller = caller
	if err := h.allow("user:" + caller.UserID.String()); err != nil {
		h.writeError(w, c, err)
		return
	}
	ctx, cancel := context.WithTimeout(c.r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	c.r = c.r.WithContext(ctx)
	if err := serve(w, c); err != nil {
		h.writeError(w, c, err)
	}
}

// allow takes a token from key's bucket, or returns a rate_limited error.
func (h *Handler) allow(key string) error {
	if h.limiter == nil {
		return nil
	}
	if wait := h.limiter.take(key); wait > 0 {
		return &Error{Code: errcode.RateLimited, RetryAfter: wait,
			Message: fmt.Sprintf("more than %g requests per second; retry after %s", h.cfg.RateLimit, wait.Round(time.Millisecond))}
	}
	return nil
}

// execute runs a message as the call's caller, with its ids.
func (h *Handler) execute(c *call, req pipeline.Request) (pipeline.Response, error) {
	req.Caller = c.caller
	req.CorrelationID = c.correlationID
	req.RequestID = c.requestID
	return h.deps.Service.Execute(c.r.Context(), req)
}

// idFromHeader returns the UUID in a request header, or a new one.
func idFromHeader(r *http.Request, name string) uuid.UUID {
	if v := r.Header.Get(name); v != "" {
		if id, err := uuid.Parse(v); err == nil && id != uuid.Nil {
			return id
		}
	}
	return uuid.New()
}

// statusWriter remembers a response's status, for the request log.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Log attribute keys.
const (
	logKeyComponent     = "component"
	logKeyMethod        = "method"
	logKeyPath          = "path"
	logKeyStatus        = "status"
	logKeyDuration      = "duration"
	logKeyRequestID     = "request_id"
	logKeyCorrelationID = "correlation_id"
	logKeyUser          = "user_id"
	logKeyErr           = "err"
)
