package main

import (
	"github.com/bizevents/bizevents/engine/flows"

	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bizevents/bizevents/engine/api"
	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/router"
	"github.com/bizevents/bizevents/engine/security"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
)

// Defaults for serveOptions.
const (
	defaultAddr            = "127.0.0.1:8080"
	defaultShutdownTimeout = 10 * time.Second
	readHeaderTimeout      = 10 * time.Second
)

// serveOptions are the options of `bizevents serve`.
type serveOptions struct {
	DB dbOptions
	// Addr is the TCP address to listen on. Default [defaultAddr]; port 0
	// picks a free port.
	Addr string
	// ShutdownTimeout bounds how long in-flight requests may take to finish
	// once the server is told to stop. Default [defaultShutdownTimeout].
	ShutdownTimeout time.Duration
	// LogLevel is the level of the logs on stderr. Default info.
	LogLevel slog.Leveler

	// Solutions are solution folders to import at start (each import is a
	// no-op when that version is imported already).
	Solutions []string
	// APIKey authenticates requests as the dev user. Default: env
	// BIZEVENTS_API_KEY; with neither it nor a client, and a SQLite
	// database, a key is made once and kept next to the database file.
	APIKey string
	// ClientID and ClientSecret make one OAuth 2.0 client (an application
	// user) that gets tokens at /oauth2/token. Default: env
	// BIZEVENTS_CLIENT_ID and BIZEVENTS_CLIENT_SECRET.
	ClientID, ClientSecret string
	// TokenKey signs access tokens, at least 32 bytes. Default: env
	// BIZEVENTS_TOKEN_KEY, else a random key per start (tokens then end
	// with the process, and several processes do not share them).
	TokenKey string
	// RateLimit is each caller's requests per second, 0 for no limit.
	RateLimit float64
	// Plugins configure the plugin runtime.
	Plugins pluginOptions
	// JobRetention is how long succeeded jobs are kept; failed ones are
	// kept until retried or canceled. Default router.DefaultRetention.
	JobRetention time.Duration

	// ready, when set, is called with the listening address once the
	// server accepts connections (tests listen on port 0).
	ready func(net.Addr)
	// getenv reads the environment (endpoints' env:NAME values).
	getenv func(string) string
}

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "run the engine's HTTP server until interrupted",
		help: "Opens the database (creating and migrating it as needed), imports --solution folders,\n" +
			"and serves:\n" +
			"  GET /healthz            200 \"ok\" when the database answers (no credentials needed)\n" +
			"  /api/data/v9.2/...      the Dataverse-shaped Web API: tables, custom APIs\n" +
			"  POST /oauth2/token      client credentials -> bearer token\n" +
			"  GET /api/log/head       the log's head: position, hash, unsealed\n" +
			"  GET /api/log/events     events; query: after, limit, stream, type, correlation_id, since, until\n" +
			"  GET /api/traces         the plugin trace log; query: step, module, handler, correlation_id,\n" +
			"                          since, until, failed, after, limit\n" +
			"  GET /api/jobs[/{id}]    the jobs of async steps, deliveries and flow runs; POST /api/jobs/{id}/retry|cancel\n" +
			"  GET /api/flows          the flows; GET /api/flows/{name}/runs, GET /api/flowruns/{id}, POST /api/flowruns/{id}/resubmit\n" +
			"  GET /api/catalogs/...   the catalogs: categories, events and each event's JSON Schema\n" +
			"Every request but /healthz and the token needs \"Authorization: Bearer <token or API key>\".\n" +
			"Errors are {\"error\":{\"code\",\"message\",\"bizeventsCode\"}} with stable codes.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			o := serveOptions{ShutdownTimeout: defaultShutdownTimeout}
			o.DB.register(fs, env, true)
			fs.StringVar(&o.Addr, "addr", defaultAddr, "`host:port` to listen on")
			fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "how long in-flight requests may take to finish on shutdown")
			fs.Func("solution", "import the solution in `DIR` at start (repeatable)", func(v string) error {
				o.Solutions = append(o.Solutions, v)
				return nil
			})
			o.APIKey = env.getenv(envAPIKey)
			fs.StringVar(&o.APIKey, "api-key", o.APIKey, "API `key` of the dev user (env "+envAPIKey+")")
			o.ClientID, o.ClientSecret = env.getenv(envClientID), env.getenv(envClientSecret)
			fs.StringVar(&o.ClientID, "client-id", o.ClientID, "OAuth 2.0 client `id` of an application user (env "+envClientID+")")
			fs.StringVar(&o.ClientSecret, "client-secret", o.ClientSecret, "the client's `secret` (env "+envClientSecret+")")
			o.TokenKey = env.getenv(envTokenKey)
			fs.Float64Var(&o.RateLimit, "rate-limit", 0, "requests per second per caller, 0 for no limit")
			o.Plugins.register(fs)
			fs.DurationVar(&o.JobRetention, "job-retention", router.DefaultRetention, "how long succeeded jobs are kept (failed ones are kept until retried or canceled)")
			level := new(slog.LevelVar)
			fs.Var(levelValue{level}, "log-level", "log `level`: debug, info, warn or error")
			o.LogLevel = level
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				o.getenv = env.getenv
				return runServe(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// runServe serves HTTP until ctx is done, then shuts down gracefully and
// returns nil; it returns an error when the store cannot be opened or the
// server fails.
func runServe(ctx context.Context, o serveOptions, _, stderr io.Writer) error {
	if o.getenv == nil {
		o.getenv = os.Getenv
	}
	if o.Addr == "" {
		o.Addr = defaultAddr
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = defaultShutdownTimeout
	}
	if o.LogLevel == nil {
		o.LogLevel = slog.LevelInfo
	}
	logger := newLogger(stderr, o.LogLevel)
	log := logger.With(logKeyComponent, "serve")

	if !isPostgres(o.DB.DB) {
		lock, err := lockSQLite(o.DB.DB)
		if err != nil {
			return err
		}
		defer lock.release()
	}
	db, err := openEngineDB(ctx, o.DB, logger)
	if err != nil {
		return err
	}
	defer db.Close()
	host, err := newPluginHost(ctx, o.Plugins, db, logger)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
		defer cancel()
		if err := host.Close(cctx); err != nil {
			log.WarnContext(ctx, "close plugins", logKeyErr, err)
		}
	}()
	// The flows runtime runs the flow-defined actions' main operations and
	// the flows' runs; its messages go to the engine once it exists.
	engineRef := &lateService{}
	fl := flows.New(flows.Config{Service: engineRef, Log: db.Log(), Getenv: o.getenv, Logger: logger.With(logKeyComponent, "flows")})
	e, err := startEngine(ctx, o.DB, db, logger, handlerChain{fl, host.reg}, host.reg)
	if err != nil {
		return err
	}
	host.engine.Store(e)
	engineRef.e.Store(e)
	for _, dir := range o.Solutions {
		if err := importAtStart(ctx, e, host.reg, dir, log); err != nil {
			return err
		}
	}
	async, err := newAsyncRouter(e, fl, o.getenv, o.JobRetention, logger)
	if err != nil {
		return err
	}
	if err := async.start(context.WithoutCancel(ctx), solutionWatchInterval); err != nil {
		return fmt.Errorf("start the router: %w", err)
	}
	defer func() {
		// Before the plugins and the database close: running jobs need them.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
		defer cancel()
		if err := async.stop(sctx); err != nil {
			log.WarnContext(ctx, "stop the router", logKeyErr, err)
		}
	}()
	// Broker inputs feed messages in like HTTP: stopped before the router.
	stopInputs, err := startInputs(ctx, e, o.getenv, logger)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
		defer cancel()
		if err := stopInputs(sctx); err != nil {
			log.WarnContext(ctx, "stop the inputs", logKeyErr, err)
		}
	}()
	auth, err := newAuthenticator(ctx, o, log)
	if err != nil {
		return err
	}
	handler, err := newHandler(e, auth, o, logger)
	if err != nil {
		return err
	}
	watchCtx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go fl.Schedule(watchCtx, db.Log(), time.Second, func(err error) {
		log.WarnContext(ctx, "flow schedule", logKeyErr, err)
	})
	go solution.Watch(watchCtx, e, host.reg, solutionWatchInterval, func(err error) {
		log.WarnContext(ctx, "reload solutions", logKeyErr, err)
	})

	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(logger.With(logKeyComponent, "http").Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.InfoContext(ctx, "serving", logKeyAddr, "http://"+ln.Addr().String(), logKeyDB, o.DB.describe())
	if o.ready != nil {
		o.ready(ln.Addr())
	}

	select {
	case err := <-served:
		return fmt.Errorf("serve on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	log.InfoContext(ctx, "shutting down", logKeyTimeout, o.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		log.WarnContext(ctx, "server stopped with an error", logKeyErr, err)
	}
	if shutdownErr != nil {
		// In-flight requests did not finish in time: cut them off.
		_ = srv.Close()
		log.WarnContext(ctx, "shutdown timed out, connections closed", logKeyErr, shutdownErr)
	}
	stopWatch()
	if err := stopInputs(sctx); err != nil {
		log.WarnContext(ctx, "stop the inputs", logKeyErr, err)
	}
	// The router's running jobs need the plugins, and both the database.
	if err := async.stop(sctx); err != nil {
		log.WarnContext(ctx, "stop the router", logKeyErr, err)
	}
	if err := host.Close(sctx); err != nil {
		log.WarnContext(ctx, "close plugins", logKeyErr, err)
	}
	if err := db.Close(); err != nil {
		return fmt.Errorf("close the database: %w", err)
	}
	log.InfoContext(ctx, "stopped")
	return nil
}

// logAPI is the server's HTTP surface over the event log.
type logAPI struct {
	store eventlog.Store
	db    storage.Querier
	auth  *security.Authenticator
	log   *slog.Logger
}

// newHandler routes the Web API, the token endpoint, the log's endpoints
// and the health check.
func newHandler(e *pipeline.Engine, auth *security.Authenticator, o serveOptions, logger *slog.Logger) (http.Handler, error) {
	catalogs := api.CatalogSourceFunc(func(ctx context.Context) (*catalog.Index, error) { return solution.Catalogs(ctx, e.DB()) })
	web, err := api.New(api.Deps{Metadata: e, Service: e, Auth: auth, Catalogs: catalogs}, api.Config{RateLimit: o.RateLimit, Burst: int(max(o.RateLimit, 1) * 2), Logger: logger})
	if err != nil {
		return nil, err
	}
	a := &logAPI{store: e.DB().Log(), db: e.DB(), auth: auth, log: logger.With(logKeyComponent, "api")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /api/log/head", a.authenticated(a.head))
	mux.HandleFunc("GET /api/log/events", a.authenticated(a.events))
	mux.HandleFunc("GET /api/traces", a.authenticated(a.traces))
	(&jobsAPI{logAPI: a, store: jobs.NewStore(e.DB(), nil)}).register(mux)
	(&flowsAPI{logAPI: a, db: e.DB(), store: jobs.NewStore(e.DB(), nil)}).register(mux)
	mux.Handle(api.DefaultBasePath+"/", web)
	mux.Handle(api.DefaultTokenPath, web)
	mux.Handle(api.DefaultCatalogPath, web)
	mux.Handle(api.DefaultCatalogPath+"/", web)
	return logRequests(logger.With(logKeyComponent, "http"), mux), nil
}

// authenticated lets requests with valid credentials through to next.
func (a *logAPI) authenticated(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if _, err := a.auth.Authenticate(r); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="bizevents"`)
			a.writeError(w, r, err)
			return
		}
		next(w, r)
	}
}

func (a *logAPI) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := a.store.Head(r.Context()); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func (a *logAPI) head(w http.ResponseWriter, r *http.Request) {
	h, err := a.store.Head(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeJSON(w, r, toHeadJSON(h))
}

func (a *logAPI) events(w http.ResponseWriter, r *http.Request) {
	q, err := readQueryFromURL(r.URL.Query())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	evs, err := a.store.Read(r.Context(), q)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeJSON(w, r, toEventsJSON(evs))
}

// readQueryFromURL parses the query of GET /api/log/events.
func readQueryFromURL(v url.Values) (eventlog.ReadQuery, error) {
	var q eventlog.ReadQuery
	err := parseQuery(v, []queryParam{
		{name: "after", set: func(s string) (err error) { q.After, err = parsePosition(s); return err }},
		{name: "limit", set: func(s string) (err error) { q.Limit, err = parseCount(s); return err }},
		{name: "stream", set: func(s string) error { q.StreamID = s; return nil }},
		{name: "type", list: true, set: func(s string) error { q.Types = appendList(q.Types, s); return nil }},
		{name: "correlation_id", set: func(s string) error { q.CorrelationID = s; return nil }},
		{name: "since", set: func(s string) (err error) { q.Since, err = parseTime(s); return err }},
		{name: "until", set: func(s string) (err error) { q.Until, err = parseTime(s); return err }},
	})
	return q, err
}

// queryParam is one parameter of an endpoint's URL query.
type queryParam struct {
	name string
	// list parameters may be given several times (each value may be a
	// comma-separated list); the others once.
	list bool
	set  func(s string) error
}

// parseQuery reads a URL query into params, reporting every problem at
// once as an *argumentError: a bad value, a single-valued parameter given
// twice, and an unknown parameter, so that a misspelt filter does not
// silently match everything.
func parseQuery(v url.Values, params []queryParam) error {
	names := make([]string, 0, len(v))
	for name := range v {
		names = append(names, name)
	}
	slices.Sort(names)
	var errs []error
	for _, name := range names {
		vals := v[name]
		i := slices.IndexFunc(params, func(p queryParam) bool { return p.name == name })
		if i < 0 {
			known := make([]string, len(params))
			for k, p := range params {
				known[k] = p.name
			}
			errs = append(errs, fmt.Errorf("%s=%q: unknown parameter; known: %s", name, vals[0], strings.Join(known, ", ")))
			continue
		}
		if !params[i].list && len(vals) > 1 {
			errs = append(errs, fmt.Errorf("%s is given %d times", name, len(vals)))
			continue
		}
		for _, s := range vals {
			if err := params[i].set(s); err != nil {
				errs = append(errs, fmt.Errorf("%s=%q: %w", name, s, err))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return &argumentError{err: err}
	}
	return nil
}

// argumentError is a bad request parameter: code invalid_argument.
type argumentError struct{ err error }

func (e *argumentError) Error() string { return e.err.Error() }
func (e *argumentError) Unwrap() error { return e.err }

// ErrorCode returns [errcode.InvalidArgument].
func (e *argumentError) ErrorCode() errcode.Code { return errcode.InvalidArgument }

// errorJSON is the body of every error response.
type errorJSON struct {
	Error errorBody `json:"error"`
}

// errorBody has the Web API's shape: the hex code of errcode's table and
// the stable string code.
type errorBody struct {
	Code          string       `json:"code"`
	Message       string       `json:"message"`
	BizeventsCode errcode.Code `json:"bizeventsCode"`
}

// writeError is the one place that turns an error into an HTTP response:
// {"error":{"code","message"}} with the status of the code in errcode's
// table. The message of an internal error stays in the server's log.
func (a *logAPI) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := errcode.Of(err)
	entry, ok := errcode.Lookup(code)
	if !ok {
		code = errcode.Internal
		entry, _ = errcode.Lookup(code)
	}
	msg := err.Error()
	switch code {
	case errcode.Internal:
		a.log.ErrorContext(r.Context(), "request failed", logKeyMethod, r.Method, logKeyPath, r.URL.Path, logKeyErr, err)
		msg = "internal error; the server's log has the details"
	case errcode.Canceled:
		a.log.DebugContext(r.Context(), "request canceled", logKeyPath, r.URL.Path, logKeyErr, err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Bizevents-Error-Code", string(code))
	w.WriteHeader(entry.HTTPStatus)
	_ = json.NewEncoder(w).Encode(errorJSON{Error: errorBody{Code: entry.Hex, Message: msg, BizeventsCode: code}})
}

func (a *logAPI) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)+1))
	_, _ = w.Write(append(body, '\n'))
}

// logRequests logs each request at debug level.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(sw, r)
		log.DebugContext(r.Context(), "request", logKeyMethod, r.Method, logKeyPath, r.URL.Path,
			logKeyStatus, sw.status, logKeyDuration, time.Since(start))
	})
}

// statusWriter remembers the status of a response.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(status int) {
	w.status = status
	w.ResponseWriter.WriteHeader(status)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
