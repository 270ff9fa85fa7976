package security

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"
)

// Token is an access token as the token endpoint returns it (RFC 6749
// section 5.1).
type Token struct {
	AccessToken string `json:"access_token"`
	// ExpiresIn is the token's lifetime in seconds.
	ExpiresIn int64 `json:"expires_in"`
	// TokenType is always "Bearer".
	TokenType string `json:"token_type"`
}

// claims are an access token's JWT claims.
type claims struct {
	Subject  string `json:"sub"` // the user id
	ClientID string `json:"client_id"`
	Audience string `json:"aud"`
	IssuedAt int64  `json:"iat"` // Unix seconds
	Expires  int64  `json:"exp"` // Unix seconds
}

// header is a JWT's JOSE header.
type header struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

const (
	algHS256 = "HS256"
	// maxTokenLength rejects absurd tokens before any decoding.
	maxTokenLength = 4096
	// issuedAtLeeway tolerates a token issued by a process whose clock is
	// slightly ahead. Expiry has no leeway.
	issuedAtLeeway = time.Minute
)

var b64 = base64.RawURLEncoding

// tokenKey is a token key and its key id.
type tokenKey struct {
	id  string
	key []byte
}

func newTokenKey(k []byte) tokenKey {
	sum := sha256.Sum256(append([]byte("bizevents token key id\x00"), k...))
	return tokenKey{id: b64.EncodeToString(sum[:6]), key: bytes.Clone(k)}
}

// sign returns the compact JWS of c signed with k.
func (k tokenKey) sign(c claims) string {
	h, _ := json.Marshal(header{Alg: algHS256, Typ: "JWT", Kid: k.id})
	p, _ := json.Marshal(c)
	signing := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	return signing + "." + b64.EncodeToString(k.mac(signing))
}

func (k tokenKey) mac(signing string) []byte {
	m := hmac.New(sha256.New, k.key)
	m.Write([]byte(signing))
	return m.Sum(nil)
}

// verify checks a token's signature against keys and returns its claims,
// unchecked; the error is always ErrInvalidToken.
func verify(token string, keys []tokenKey) (claims, error) {
	if len(token) > maxTokenLength {
		return claims{}, ErrInvalidToken
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return claims{}, ErrInvalidToken
	}
	var h header
	if raw, err := b64.DecodeString(parts[0]); err != nil || json.Unmarshal(raw, &h) != nil {
		return claims{}, ErrInvalidToken
	}
	// Only HS256, whatever the header says: no "none", no algorithm
	// confusion.
	if h.Alg != algHS256 {
		return claims{}, ErrInvalidToken
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return claims{}, ErrInvalidToken
	}
	signing := parts[0] + "." + parts[1]
	ok := false
	for _, k := range keys {
		if k.id == h.Kid && hmac.Equal(k.mac(signing), sig) {
			ok = true
		}
	}
	if !ok {
		return claims{}, ErrInvalidToken
	}
	var c claims
	if raw, err := b64.DecodeString(parts[1]); err != nil || json.Unmarshal(raw, &c) != nil {
		return claims{}, ErrInvalidToken
	}
	return c, nil
}
