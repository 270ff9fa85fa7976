package security

import "github.com/bizevents/bizevents/engine/errcode"

// Reason says why a caller was not authenticated.
type Reason string

// The reasons.
const (
	// NoCredentials: the request carries neither an Authorization header
	// nor an X-Api-Key header.
	NoCredentials Reason = "no_credentials"
	// BadCredentials: the credentials are malformed, e.g. an Authorization
	// scheme other than Bearer, or two kinds of credentials at once.
	BadCredentials Reason = "bad_credentials"
	// InvalidToken: the access token is malformed, not signed by a token key,
	// for another audience, or its client no longer exists.
	InvalidToken Reason = "invalid_token"
	// TokenExpired: the access token was valid but has expired.
	TokenExpired Reason = "token_expired"
	// InvalidAPIKey: no configured API key matches.
	InvalidAPIKey Reason = "invalid_api_key"
	// InvalidClient: the client id is unknown or the secret does not match
	// (the two are not told apart).
	InvalidClient Reason = "invalid_client"
	// InvalidScope: the scope asked for at the token endpoint is not one
	// bizevents grants.
	InvalidScope Reason = "invalid_scope"
)

// Error is an authentication failure. Its code is
// [errcode.Unauthenticated]; errors.Is matches it against the sentinel of
// its Reason ([ErrTokenExpired], ...).
type Error struct {
	Reason Reason
	// Message says what was wrong, for the caller; it never contains a
	// secret.
	Message string
}

// Sentinels for errors.Is, one per reason.
var (
	ErrNoCredentials  = &Error{Reason: NoCredentials, Message: "no credentials"}
	ErrBadCredentials = &Error{Reason: BadCredentials, Message: "malformed credentials"}
	ErrInvalidToken   = &Error{Reason: InvalidToken, Message: "invalid access token"}
	ErrTokenExpired   = &Error{Reason: TokenExpired, Message: "the access token has expired"}
	ErrInvalidAPIKey  = &Error{Reason: InvalidAPIKey, Message: "invalid API key"}
	ErrInvalidClient  = &Error{Reason: InvalidClient, Message: "invalid client credentials"}
	ErrInvalidScope   = &Error{Reason: InvalidScope, Message: "invalid scope"}
)

func (e *Error) Error() string {
	if e.Message == "" {
		return "unauthenticated: " + string(e.Reason)
	}
	return "unauthenticated: " + e.Message
}

// ErrorCode returns [errcode.Unauthenticated].
func (e *Error) ErrorCode() errcode.Code { return errcode.Unauthenticated }

// Is reports whether target is an *Error with the same Reason.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Reason == e.Reason
}

func fail(r Reason, msg string) *Error { return &Error{Reason: r, Message: msg} }
