package api

import (
	"context"
	"mime"
	"net/http"
	"net/url"

	"github.com/bizevents/bizevents/engine/errcode"
)

// OAuth 2.0 error codes (RFC 6749 section 5.2) the API sets itself.
const (
	oauthInvalidRequest       = "invalid_request"
	oauthUnsupportedGrantType = "unsupported_grant_type"
)

func oauthError(code errcode.Code, oauth, msg string) *Error {
	return &Error{Code: code, OAuth: oauth, Message: msg}
}

// serveToken serves the token endpoint: the client credentials grant
// (RFC 6749 section 4.4), the client authenticated by client_id and
// client_secret in the form or by HTTP Basic, not both.
func (h *Handler) serveToken(w http.ResponseWriter, c *call) {
	if err := h.issueToken(w, c); err != nil {
		h.writeError(w, c, err)
	}
}

func (h *Handler) issueToken(w http.ResponseWriter, c *call) error {
	r := c.r
	if r.Method != http.MethodPost {
		e := notAllowed(r.Method, "the token endpoint", http.MethodPost).(*Error)
		e.OAuth = oauthInvalidRequest
		return e
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		return oauthError(errcode.InvalidArgument, oauthInvalidRequest, "send the token request as application/x-www-form-urlencoded")
	}
	body, err := h.readBody(w, r)
	if err != nil {
		return err
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return oauthError(errcode.InvalidArgument, oauthInvalidRequest, "the form is not validly encoded")
	}
	for name, vals := range form {
		if len(vals) > 1 {
			return oauthError(errcode.InvalidArgument, oauthInvalidRequest, "parameter "+name+" is repeated")
		}
	}
	switch grant := form.Get("grant_type"); grant {
	case "client_credentials":
	case "":
		return oauthError(errcode.InvalidArgument, oauthInvalidRequest, "grant_type is missing")
	default:
		return oauthError(errcode.InvalidArgument, oauthUnsupportedGrantType, "grant_type "+grant+" is not supported; use client_credentials")
	}
	id, secret := form.Get("client_id"), form.Get("client_secret")
	if user, pass, ok := r.BasicAuth(); ok {
		if secret != "" {
			return oauthError(errcode.InvalidArgument, oauthInvalidRequest, "authenticate the client one way: HTTP Basic or client_secret, not both")
		}
		// RFC 6749 section 2.3.1: both are form-encoded before Basic.
		bu, err1 := url.QueryUnescape(user)
		bp, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || (id != "" && id != bu) {
			return oauthError(errcode.InvalidArgument, oauthInvalidRequest, "the HTTP Basic credentials are malformed or name another client")
		}
		id, secret = bu, bp
	}
	if id == "" {
		return oauthError(errcode.InvalidArgument, oauthInvalidRequest, "client_id is missing")
	}
	if err := h.allow("client:" + id); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	tok, err := h.deps.Auth.IssueToken(ctx, id, secret, form.Get("scope"))
	if err != nil {
		return err
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	return writeJSON(w, http.StatusOK, tok)
}
