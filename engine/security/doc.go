// Package security authenticates the callers of bizevents: application users
// that call the HTTP API with an API key or with an access token from the
// OAuth 2.0 client credentials grant, as Dataverse's application users do
// with Microsoft Entra ID. Roles and privileges come later.
//
// Access tokens are stateless: a JWT (RFC 7519) signed with HMAC-SHA256 by
// the first of the configured token keys and verified by any of them, so a
// key can be rotated without logging anyone out: add the new key first, keep
// the old one until the last token it signed has expired (TokenTTL), then
// remove it. A token names its client and user; removing a client from the
// configuration invalidates its tokens at once.
//
// Client secrets are stored as PBKDF2-SHA256 hashes ([HashSecret]); API keys
// as they are (give each its own name so it can be revoked alone). Every
// secret comparison is constant-time.
package security
