package endpoints

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxResponseExcerpt is how much of a response body an [Attempt] keeps, in
// bytes.
const MaxResponseExcerpt = 4 << 10

// DefaultUserAgent is the User-Agent of deliveries when the config sets
// none.
const DefaultUserAgent = "bizevents-webhook/1"

// Headers a delivery carries besides Standard Webhooks' and CloudEvents'.
const (
	// HeaderReplay is "true" on a re-delivery for audit or recovery.
	HeaderReplay = "X-Bizevents-Replay"
	// HeaderAttempt is the attempt's number, from 1.
	HeaderAttempt = "X-Bizevents-Attempt"
)

// maxDrain is how much of a response past the excerpt is read, and thrown
// away, so that the connection can carry the next delivery; a longer body
// closes the connection instead.
const maxDrain = 64 << 10

// Delivery is one event delivered to one endpoint.
type Delivery struct {
	// ID identifies the delivery. It is the same on every retry and replay
	// of one job, so the receiver can deduplicate on it: it is sent as
	// webhook-id, as the CloudEvents id and as Idempotency-Key. Printable
	// ASCII without spaces, at most 256 bytes.
	ID string
	// Attempt is the try's number: 1, 2, ... (0 counts as 1).
	Attempt int
	// Replay marks a re-delivery for audit or recovery: the header
	// X-Bizevents-Replay: true and, in CloudEvents, the extension
	// bizeventsreplay=true.
	Replay bool
	// ReplayID names the replay (the job's), when Replay is set: a stream
	// dedupes a replay's attempts on ID and ReplayID, so that JetStream's
	// duplicate window does not take a replay for a retry of the first
	// delivery. Empty: one name for every replay.
	ReplayID string
	// Context is what is delivered. Deliver does not change it; when its
	// OperationID is empty, ID is sent in its place.
	Context *ExecutionContext
}

// maxDeliveryID bounds Delivery.ID.
const maxDeliveryID = 256

func (d *Delivery) validate() error {
	switch {
	case d.ID == "":
		return fmt.Errorf("%w: no ID", ErrInvalidDelivery)
	case len(d.ID) > maxDeliveryID:
		return fmt.Errorf("%w: ID longer than %d bytes", ErrInvalidDelivery, maxDeliveryID)
	case d.Context == nil:
		return fmt.Errorf("%w: no Context", ErrInvalidDelivery)
	case d.Attempt < 0:
		return fmt.Errorf("%w: negative Attempt", ErrInvalidDelivery)
	}
	if !isPrintableID(d.ID) {
		return fmt.Errorf("%w: ID must be printable ASCII without spaces", ErrInvalidDelivery)
	}
	if len(d.ReplayID) > maxDeliveryID || !isPrintableID(d.ReplayID) {
		return fmt.Errorf("%w: ReplayID must be printable ASCII without spaces, at most %d bytes", ErrInvalidDelivery, maxDeliveryID)
	}
	return nil
}

// isPrintableID reports whether s is printable ASCII without spaces, as
// a header value and an id must be.
func isPrintableID(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// Attempt is what one try did, kept on the job.
type Attempt struct {
	// Status is the HTTP status, 0 when there was no response (and always
	// for a queue or a stream).
	Status int
	// Duration is how long the try took, from encoding the request to the
	// end of the excerpt (for a queue or a stream, to the broker's
	// confirm): the span the endpoint's Timeout bounds.
	Duration time.Duration
	// Response is the first MaxResponseExcerpt bytes of the response body,
	// made valid UTF-8 (a rune cut at the end is dropped, invalid bytes
	// become U+FFFD), never longer than MaxResponseExcerpt; empty for a
	// queue or a stream.
	Response string
	// Err is nil on a 2xx answer (a broker's confirm or ack). Otherwise:
	// a [*StatusError] (another status), [ErrTimeout] (no answer within
	// the endpoint's Timeout), a [*NetworkError] (refused, reset, DNS,
	// TLS, a broker connection lost), a [*BrokerError] (a broker refused
	// the message), [ErrClosed] (the sender was closed), the context's
	// error when ctx ended (errors.Is(err, context.Canceled)), or, for an
	// endpoint that does not validate or is not of the sender's kind or an
	// unusable delivery, [*FieldError]s or [ErrInvalidDelivery].
	Err error
	// Retryable says whether trying again may succeed: true for 5xx, 408,
	// 409, 425, 429, timeouts, network errors, a broker that is unavailable
	// or nacked, ErrClosed and a canceled ctx; false for other statuses
	// (4xx, and 3xx: redirects are not followed), a broker destination that
	// does not exist or may not be used, and an invalid endpoint or
	// delivery.
	Retryable bool
	// RetryAfter is the wait a 429 or 503 asked for in Retry-After (seconds
	// or an HTTP date), else 0.
	RetryAfter time.Duration
}

// WebhookConfig configures a [Webhook].
type WebhookConfig struct {
	// Client sends the deliveries. Default: a client of the Webhook's own
	// that keeps up to 64 idle connections per host, dials within 10 s and
	// does not follow redirects (a 3xx is a failed attempt). A given
	// client is used as it is: its redirect policy and timeout apply.
	Client *http.Client
	// UserAgent is sent as User-Agent. Default: [DefaultUserAgent].
	UserAgent string
	// Now is the clock of webhook-timestamp and of Retry-After dates.
	// Default: time.Now.
	Now func() time.Time
}

// WithDefaults returns a copy of c with the documented defaults filled in.
func (c WebhookConfig) WithDefaults() WebhookConfig {
	if c.Client == nil {
		c.Client = &http.Client{
			Transport:     newTransport(),
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	}
	if c.UserAgent == "" {
		c.UserAgent = DefaultUserAgent
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// newTransport is the default client's transport: HTTP/2 when the server
// offers it, proxies from the environment, and enough idle connections for
// many concurrent deliveries to one receiver.
func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 64
	t.IdleConnTimeout = 90 * time.Second
	t.TLSHandshakeTimeout = 10 * time.Second
	t.ExpectContinueTimeout = time.Second
	t.MaxResponseHeaderBytes = 64 << 10
	t.ForceAttemptHTTP2 = true
	return t
}

// Webhook delivers to webhook endpoints over HTTP. It is safe for
// concurrent use; one Webhook (one connection pool) serves every endpoint.
type Webhook struct {
	client    *http.Client
	userAgent string
	now       func() time.Time
}

// NewWebhook returns a Webhook with cfg's defaults filled in.
func NewWebhook(cfg WebhookConfig) *Webhook {
	cfg = cfg.WithDefaults()
	return &Webhook{client: cfg.Client, userAgent: cfg.UserAgent, now: cfg.Now}
}

// CloseIdleConnections closes the connections the client keeps for the
// next deliveries; call it when the Webhook is no longer used.
func (w *Webhook) CloseIdleConnections() { w.client.CloseIdleConnections() }

// errAttemptTimeout is the cause of an attempt's context ending at the
// endpoint's Timeout.
var errAttemptTimeout = errors.New("endpoint timeout")

// Deliver makes one attempt to deliver d to e and says what happened; it
// never retries (the job runner does, as Attempt.Retryable and RetryAfter
// say). The POST carries d.Context in e's Format, webhook-id (d.ID) and
// webhook-timestamp, a webhook-signature when e has Secrets, e's Auth,
// X-Bizevents-Attempt, and X-Bizevents-Replay on a replay. The attempt
// ends at e's Timeout or when ctx ends, whichever is first.
func (w *Webhook) Deliver(ctx context.Context, e Endpoint, d Delivery) Attempt {
	e = e.WithDefaults()
	if err := checkSender(&e, KindWebhook, "Webhook"); err != nil {
		return Attempt{Err: err}
	}
	if err := d.validate(); err != nil {
		return Attempt{Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, err)}
	}
	start := time.Now()
	actx, cancel := context.WithTimeoutCause(ctx, e.Timeout, errAttemptTimeout)
	defer cancel()
	req, err := w.request(actx, &e, &d)
	if err != nil {
		return Attempt{Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, err)}
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return Attempt{Duration: time.Since(start), Retryable: true, Err: transportError(ctx, actx, &e, err)}
	}
	excerpt := readExcerpt(resp.Body)
	_, _ = io.CopyN(io.Discard, resp.Body, maxDrain)
	_ = resp.Body.Close()
	a := Attempt{Status: resp.StatusCode, Duration: time.Since(start), Response: excerpt}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return a
	}
	a.Err = &StatusError{Endpoint: e.Name, Status: resp.StatusCode}
	a.Retryable = retryableStatus(resp.StatusCode)
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		a.RetryAfter = retryAfter(resp.Header.Get("Retry-After"), w.now())
	}
	return a
}

// request builds the POST of a delivery.
func (w *Webhook) request(ctx context.Context, e *Endpoint, d *Delivery) (*http.Request, error) {
	m, err := encodeDelivery(e, d)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, targetURL(e), bytes.NewReader(m.body))
	if err != nil {
		// Not err: its message quotes the URL, which may hold a key.
		return nil, &FieldError{Endpoint: e.Name, Field: "url", Problem: "is not a URL"}
	}
	// Headers go straight into the map under their canonical names, values
	// sharing one array: Header.Set would canonicalize and allocate each.
	h := make(http.Header, 20)
	vals := make([]string, 0, 20)
	set := func(k, v string) {
		vals = append(vals, v)
		n := len(vals)
		h[k] = vals[n-1 : n : n]
	}
	set("Content-Type", m.contentType)
	set("User-Agent", w.userAgent)
	// The delivery is idempotent by design (receivers deduplicate on its
	// id); saying so lets net/http resend it on a pooled connection the
	// server had closed, instead of failing the attempt.
	set("Idempotency-Key", d.ID)
	if err := m.headers(e, d, strconv.FormatInt(w.now().Unix(), 10), set); err != nil {
		return nil, err
	}
	if e.Auth.Type == AuthHTTPHeader {
		set(http.CanonicalHeaderKey(e.Auth.Name), e.Auth.Value)
	}
	req.Header = h
	return req, nil
}

// sendable returns c as it is sent: OperationID filled with the delivery's
// id when empty. c itself is never changed: a copy is filled.
func sendable(c *ExecutionContext, id string) *ExecutionContext {
	if c.OperationID != "" {
		return c
	}
	cp := *c
	cp.OperationID = id
	return &cp
}

// sizeHint guesses the encoded size of c, to allocate the body once.
func sizeHint(c *ExecutionContext) int {
	n := 1536
	for _, p := range []Parameters{c.InputParameters, c.OutputParameters, c.SharedVariables, c.PreEntityImages, c.PostEntityImages} {
		for _, kv := range p {
			n += len(kv.Key) + len(kv.Value) + 24
		}
	}
	return n
}

// targetURL is e's URL with its auth's query parameters added after the
// URL's own, which are kept as written.
func targetURL(e *Endpoint) string {
	var extra string
	switch e.Auth.Type {
	case AuthWebhookKey:
		extra = "code=" + url.QueryEscape(e.Auth.Value)
	case AuthQueryString:
		if e.Auth.Name != "" {
			extra = url.QueryEscape(e.Auth.Name) + "=" + url.QueryEscape(e.Auth.Value)
		} else {
			q, _ := url.ParseQuery(e.Auth.Value) // Validate checked it
			extra = q.Encode()
		}
	default:
		return e.URL
	}
	base, _, _ := strings.Cut(e.URL, "#") // a fragment is never sent
	switch {
	case !strings.Contains(base, "?"):
		return base + "?" + extra
	case strings.HasSuffix(base, "?"), strings.HasSuffix(base, "&"):
		return base + extra
	default:
		return base + "&" + extra
	}
}

// transportError words a failure to get a response: the caller's ctx
// ended, the attempt's timeout, or the network.
func transportError(ctx, actx context.Context, e *Endpoint, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("endpoints: deliver to %s: %w", e.Name, ctxErr)
	}
	var ne net.Error
	if errors.Is(context.Cause(actx), errAttemptTimeout) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("endpoints: deliver to %s: no answer within %s: %w", e.Name, e.Timeout, ErrTimeout)
	}
	// *url.Error's message quotes the URL, which may hold a key.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return &NetworkError{Endpoint: e.Name, Err: err}
}

// retryableStatus reports whether an answer outside 2xx may pass.
func retryableStatus(status int) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
		return true
	}
	return status >= 500
}

// retryAfter reads a Retry-After header: delay-seconds or an HTTP date. A
// missing, malformed or past value is 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		switch {
		case secs <= 0:
			return 0
		case secs > math.MaxInt64/int64(time.Second):
			return math.MaxInt64
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// readExcerpt reads the start of a response body. A read error (the
// timeout while the body trickles in) keeps what arrived.
func readExcerpt(r io.Reader) string {
	buf := excerptBuffers.Get().(*[MaxResponseExcerpt]byte)
	defer excerptBuffers.Put(buf)
	n, _ := io.ReadFull(r, buf[:])
	return validUTF8(buf[:n], n == len(buf))
}

var excerptBuffers = sync.Pool{New: func() any { return new([MaxResponseExcerpt]byte) }}

// validUTF8 makes b valid UTF-8 within MaxResponseExcerpt bytes: invalid
// bytes become U+FFFD, and when b was cut (full), an incomplete rune at
// its end is dropped.
func validUTF8(b []byte, full bool) string {
	if utf8.Valid(b) {
		return string(b)
	}
	var out strings.Builder
	out.Grow(len(b))
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 {
			if full && !utf8.FullRune(b[i:]) {
				break // the rest of the rune is past the excerpt
			}
			if out.Len()+len(string(utf8.RuneError)) > MaxResponseExcerpt {
				break
			}
			out.WriteRune(utf8.RuneError)
			i++
			continue
		}
		if out.Len()+size > MaxResponseExcerpt {
			break
		}
		out.Write(b[i : i+size])
		i += size
	}
	return out.String()
}
