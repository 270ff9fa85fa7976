package main

import (
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
	"strconv"
	"time"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
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

	// ready, when set, is called with the listening address once the
	// server accepts connections (tests listen on port 0).
	ready func(net.Addr)
}

func serveCommand() *command {
	return &command{
		name:    "serve",
		summary: "run the engine's HTTP server until interrupted",
		help: "Opens the event log (creating and migrating it as needed) and serves:\n" +
			"  GET /healthz          200 \"ok\" when the log answers\n" +
			"  GET /api/log/head     the log's head: position, hash, unsealed\n" +
			"  GET /api/log/events   events; query: after, limit, stream, type, correlation_id, since, until\n" +
			"Errors are {\"error\":{\"code\",\"message\"}} with a stable code.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			o := serveOptions{ShutdownTimeout: defaultShutdownTimeout}
			o.DB.register(fs, env, true)
			fs.StringVar(&o.Addr, "addr", defaultAddr, "`host:port` to listen on")
			fs.DurationVar(&o.ShutdownTimeout, "shutdown-timeout", o.ShutdownTimeout, "how long in-flight requests may take to finish on shutdown")
			level := new(slog.LevelVar)
			fs.Var(levelValue{level}, "log-level", "log `level`: debug, info, warn or error")
			o.LogLevel = level
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return runServe(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// runServe serves HTTP until ctx is done, then shuts down gracefully and
// returns nil; it returns an error when the store cannot be opened or the
// server fails.
func runServe(ctx context.Context, o serveOptions, _, stderr io.Writer) error {
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

	store, err := openStore(ctx, o.DB, logger)
	if err != nil {
		return err
	}
	defer store.Close()

	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	srv := &http.Server{
		Handler:           newAPIHandler(store, logger),
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
	if err := store.Close(); err != nil {
		return fmt.Errorf("close the event log: %w", err)
	}
	log.InfoContext(ctx, "stopped")
	return nil
}

// api is the engine's small HTTP surface over the event log.
type api struct {
	store eventlog.Store
	log   *slog.Logger
}

func newAPIHandler(store eventlog.Store, logger *slog.Logger) http.Handler {
	a := &api{store: store, log: logger.With(logKeyComponent, "api")}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", a.healthz)
	mux.HandleFunc("GET /api/log/head", a.head)
	mux.HandleFunc("GET /api/log/events", a.events)
	return logRequests(logger.With(logKeyComponent, "http"), mux)
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := a.store.Head(r.Context()); err != nil {
		a.writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok\n")
}

func (a *api) head(w http.ResponseWriter, r *http.Request) {
	h, err := a.store.Head(r.Context())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeJSON(w, r, toHeadJSON(h))
}

func (a *api) events(w http.ResponseWriter, r *http.Request) {
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

// readQueryFromURL parses the query of GET /api/log/events. Unknown
// parameters are rejected, so a misspelt filter does not silently match
// everything.
func readQueryFromURL(v url.Values) (eventlog.ReadQuery, error) {
	var (
		q    eventlog.ReadQuery
		errs []error
	)
	for name, vals := range v {
		if name == "type" {
			for _, s := range vals {
				q.Types = appendList(q.Types, s)
			}
			continue
		}
		if len(vals) > 1 {
			errs = append(errs, fmt.Errorf("%s is given %d times", name, len(vals)))
			continue
		}
		s := vals[0]
		var err error
		switch name {
		case "after":
			q.After, err = parsePosition(s)
		case "limit":
			q.Limit, err = parseCount(s)
		case "stream":
			q.StreamID = s
		case "correlation_id":
			q.CorrelationID = s
		case "since":
			q.Since, err = parseTime(s)
		case "until":
			q.Until, err = parseTime(s)
		default:
			err = errors.New("unknown parameter; known: after, limit, stream, type, correlation_id, since, until")
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: %w", name, s, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return q, &argumentError{err: err}
	}
	return q, nil
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

type errorBody struct {
	Code    errcode.Code `json:"code"`
	Message string       `json:"message"`
}

// writeError is the one place that turns an error into an HTTP response:
// {"error":{"code","message"}} with the status of the code in errcode's
// table. The message of an internal error stays in the server's log.
func (a *api) writeError(w http.ResponseWriter, r *http.Request, err error) {
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
	w.WriteHeader(entry.HTTPStatus)
	_ = json.NewEncoder(w).Encode(errorJSON{Error: errorBody{Code: code, Message: msg}})
}

func (a *api) writeJSON(w http.ResponseWriter, r *http.Request, v any) {
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
