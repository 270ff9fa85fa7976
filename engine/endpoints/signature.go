package endpoints

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The Standard Webhooks headers.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// DefaultTolerance is how far webhook-timestamp may be from now for
// [Verify] when no tolerance is given: Standard Webhooks' five minutes.
const DefaultTolerance = 5 * time.Minute

// secretPrefix starts a secret as Standard Webhooks writes it.
const secretPrefix = "whsec_"

// signatureVersion prefixes each signature: v1 is HMAC-SHA256.
const signatureVersion = "v1,"

// decodeSecret returns the HMAC key of a secret: the base64 after the
// optional whsec_ prefix.
func decodeSecret(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return nil, ErrInvalidSecret
	}
	return key, nil
}

// NewSecret returns a new random signing secret: "whsec_" and the base64 of
// 32 bytes.
func NewSecret() string {
	key := make([]byte, 32)
	_, _ = rand.Read(key) // never fails (crypto/rand)
	return secretPrefix + base64.StdEncoding.EncodeToString(key)
}

// Sign returns the webhook-signature value of a message: "v1," and the
// base64 HMAC-SHA256 of "<id>.<unix seconds>.<body>", one per secret,
// separated by spaces. A secret is "whsec_" and base64 (the prefix may be
// left out); a secret that does not decode is an [ErrInvalidSecret].
func Sign(secrets []string, id string, timestamp time.Time, body []byte) (string, error) {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		k, err := decodeSecret(s)
		if err != nil {
			return "", fmt.Errorf("secret %d: %w", i, err)
		}
		keys[i] = k
	}
	return signKeys(keys, id, strconv.FormatInt(timestamp.Unix(), 10), body), nil
}

func signKeys(keys [][]byte, id, ts string, body []byte) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(signatureVersion)
		b.WriteString(base64.StdEncoding.EncodeToString(mac(k, id, ts, body)))
	}
	return b.String()
}

// mac is the HMAC-SHA256 of the signed content "<id>.<ts>.<body>".
func mac(key []byte, id, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(id))
	h.Write([]byte{'.'})
	h.Write([]byte(ts))
	h.Write([]byte{'.'})
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery as a receiver does, following Standard Webhooks:
// the webhook-id, webhook-timestamp and webhook-signature headers must be
// there ([ErrSignatureMissing]), the timestamp within tolerance of now,
// either way ([ErrSignatureTimestamp]; a tolerance of 0 or less is
// [DefaultTolerance]), and one of the space-separated v1 signatures must be
// the HMAC-SHA256 of "<id>.<timestamp>.<body>" under the secret, compared
// in constant time ([ErrSignatureMismatch]). The secret is "whsec_" and
// base64 (the prefix may be left out; [ErrInvalidSecret] otherwise). body
// must be the request body exactly as received, before any JSON decoding.
//
// A receiver should also remember webhook-id values it has processed, for
// longer than the tolerance, and ignore repeats: a retry or replay carries
// the same id.
func Verify(secret string, headers http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	key, err := decodeSecret(secret)
	if err != nil {
		return err
	}
	id := headers.Get(HeaderWebhookID)
	ts := headers.Get(HeaderWebhookTimestamp)
	sigs := headers.Get(HeaderWebhookSignature)
	switch {
	case id == "":
		return fmt.Errorf("no %s header: %w", HeaderWebhookID, ErrSignatureMissing)
	case ts == "":
		return fmt.Errorf("no %s header: %w", HeaderWebhookTimestamp, ErrSignatureMissing)
	case sigs == "":
		return fmt.Errorf("no %s header: %w", HeaderWebhookSignature, ErrSignatureMissing)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%s %q is not Unix seconds: %w", HeaderWebhookTimestamp, ts, ErrSignatureTimestamp)
	}
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return fmt.Errorf("%s is %s from now, more than %s: %w", HeaderWebhookTimestamp, d.Truncate(time.Second), tolerance, ErrSignatureTimestamp)
	}
	want := mac(key, id, ts, body)
	for _, s := range strings.Fields(sigs) {
		b64, ok := strings.CutPrefix(s, signatureVersion)
		if !ok {
			continue // another version, for a receiver that knows it
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return ErrSignatureMismatch
}

// HeaderFrom returns a message's headers as an http.Header for [Verify]:
// a NATS message's Header (nats.Header), an AMQP message's Headers
// (amqp.Table), or any map of names to values. Names are canonicalized,
// since a queue's and a stream's are lower case; a value is one string, a
// list of strings, or anything else printed with fmt.
func HeaderFrom[V any](h map[string]V) http.Header {
	out := make(http.Header, len(h))
	for k, v := range h {
		switch v := any(v).(type) {
		case string:
			out.Add(k, v)
		case []string:
			for _, s := range v {
				out.Add(k, s)
			}
		case []byte:
			out.Add(k, string(v))
		default:
			out.Add(k, fmt.Sprint(v))
		}
	}
	return out
}
