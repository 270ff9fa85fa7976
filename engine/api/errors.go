package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/security"
)

// Error is a failure the API itself finds (a malformed body, an unknown
// entity set, a method a resource does not take), with its stable code.
type Error struct {
	Code    errcode.Code
	Message string
	// RetryAfter, on rate_limited, is how long until a request would pass.
	RetryAfter time.Duration
	// Allow, on method_not_allowed, lists the methods the resource takes.
	Allow []string
	// OAuth is the RFC 6749 error code at the token endpoint, when it is
	// not the one the code maps to.
	OAuth string
}

func (e *Error) Error() string { return e.Message }

// ErrorCode returns the code.
func (e *Error) ErrorCode() errcode.Code { return e.Code }

func errorf(code errcode.Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorBody is the body of every Web API error, as Dataverse shapes it.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	// Code is the Dataverse-style hex code, e.g. "0x80040217".
	Code    string `json:"code"`
	Message string `json:"message"`
	// BizeventsCode is the stable string code, e.g. "not_found".
	BizeventsCode errcode.Code `json:"bizeventsCode"`
}

// oauthErrorBody is an error of the token endpoint (RFC 6749 section 5.2).
type oauthErrorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// writeError is the one place that turns an error into an HTTP response.
//
// The status comes from errcode's table, except that a version conflict on
// a request with If-Match is 412 Precondition Failed, as in Dataverse. The
// body is {"error":{"code":"0x...","message":"...","bizeventsCode":"..."}},
// or at the token endpoint RFC 6749's {"error","error_description"}; the
// header X-Bizevents-Error-Code carries the string code either way. An
// internal error's detail goes to the log, and the caller gets a generic
// message with the request id to quote.
func (h *Handler) writeError(w http.ResponseWriter, c *call, err error) {
	code := errcode.Of(err)
	entry, ok := errcode.Lookup(code)
	if !ok {
		code = errcode.Internal
		entry, _ = errcode.Lookup(code)
	}
	status, msg := entry.HTTPStatus, err.Error()
	var ae *Error
	errors.As(err, &ae)
	r := c.r
	switch code {
	case errcode.Internal:
		h.log.ErrorContext(r.Context(), "request failed", logKeyMethod, r.Method, logKeyPath, r.URL.Path,
			logKeyRequestID, c.requestID, logKeyCorrelationID, c.correlationID, logKeyErr, err)
		msg = "an unexpected error occurred; quote request id " + c.requestID.String() + " to the administrator"
	case errcode.Canceled:
		h.log.DebugContext(r.Context(), "request canceled", logKeyPath, r.URL.Path, logKeyRequestID, c.requestID, logKeyErr, err)
	case errcode.VersionConflict:
		if r.Header.Get("If-Match") != "" {
			status = http.StatusPreconditionFailed
		}
	case errcode.RateLimited:
		if ae != nil && ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(ae.RetryAfter.Seconds()))))
		}
	case errcode.MethodNotAllowed:
		if ae != nil && len(ae.Allow) > 0 {
			w.Header().Set("Allow", strings.Join(ae.Allow, ", "))
		}
	}

	hdr := w.Header()
	hdr.Set(HeaderErrorCode, string(code))
	hdr.Set("Content-Type", "application/json; charset=utf-8")
	hdr.Set("X-Content-Type-Options", "nosniff")
	var body any = errorBody{Error: errorDetail{Code: entry.Hex, Message: msg, BizeventsCode: code}}
	if c.token {
		oauth := "server_error"
		switch {
		case ae != nil && ae.OAuth != "":
			oauth = ae.OAuth
		case errors.Is(err, security.ErrInvalidScope):
			oauth, status = "invalid_scope", http.StatusBadRequest
		case code == errcode.Unauthenticated:
			oauth = "invalid_client"
		case code == errcode.InvalidArgument, code == errcode.RequestTooLarge, code == errcode.MethodNotAllowed:
			oauth = "invalid_request"
		case code == errcode.RateLimited, code == errcode.Unavailable:
			oauth = "temporarily_unavailable"
		}
		if oauth == "invalid_client" {
			if _, _, basic := r.BasicAuth(); basic {
				hdr.Set("WWW-Authenticate", `Basic realm="bizevents"`)
			}
		}
		hdr.Set("Cache-Control", "no-store")
		body = oauthErrorBody{Error: oauth, Description: msg}
	} else if code == errcode.Unauthenticated {
		challenge := `Bearer realm="bizevents"`
		if !errors.Is(err, security.ErrNoCredentials) {
			challenge += `, error="invalid_token"`
		}
		hdr.Set("WWW-Authenticate", challenge)
	}
	b, _ := json.Marshal(body) // strings only: cannot fail
	hdr.Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}
