package endpoints

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ThreeDotsLabs/watermill"

	"github.com/bizevents/bizevents/engine/errcode"
)

// DefaultDialTimeout bounds connecting to a broker when the config sets no
// DialTimeout. A delivery waits for the connection at most until its own
// Timeout.
const DefaultDialTimeout = 10 * time.Second

// HeaderCorrelationID is the correlation id of the event, on every message
// a queue or a stream publishes, whatever the format (a web hook carries it
// in the format's own header or attribute); on the wire, in lower case.
const HeaderCorrelationID = "X-Bizevents-Correlation-Id"

// maxBrokerName bounds a queue's, an exchange's and a stream's name: AMQP
// short strings and JetStream names have 255 bytes at most.
const maxBrokerName = 255

// validateAMQP checks a queue endpoint's URL and destination.
func validateAMQP(e Endpoint, bad func(field, format string, args ...any)) {
	if requireURL(e.URL, bad) {
		u, err := url.Parse(e.URL)
		switch {
		case err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps"):
			// Never quote the URL: it holds the password.
			bad("url", "must be an AMQP URI: amqp://user:password@host:5672/vhost, or amqps://")
		case u.Hostname() == "":
			bad("url", "has no host")
		}
	}
	brokerAuth(e, bad)
	switch {
	case e.Queue == "" && e.Exchange == "":
		bad("queue", "is required, or an exchange: where the messages go")
	case e.Queue != "":
		if strings.HasPrefix(e.Queue, "amq.") {
			bad("queue", "names starting with amq. are reserved by the broker")
		}
		brokerName(bad, "queue", e.Queue)
	}
	if e.Exchange != "" {
		brokerName(bad, "exchange", e.Exchange)
	}
	onlyFor(e, bad, KindStream, "subject", e.Subject)
	onlyFor(e, bad, KindStream, "stream", e.Stream)
}

// validateNATS checks a stream endpoint's URL, subject and stream.
func validateNATS(e Endpoint, bad func(field, format string, args ...any)) {
	if requireURL(e.URL, bad) {
		for _, part := range strings.Split(e.URL, ",") {
			u, err := url.Parse(strings.TrimSpace(part))
			if err != nil || u.Hostname() == "" {
				bad("url", "must be a NATS URL: nats://host:4222 (or tls://, ws://, wss://), several separated by commas")
				break
			}
			if s := u.Scheme; s != "nats" && s != "tls" && s != "ws" && s != "wss" {
				bad("url", "must start with nats://, tls://, ws:// or wss://")
				break
			}
		}
	}
	brokerAuth(e, bad)
	switch {
	case e.Subject == "":
		bad("subject", "is required: the NATS subject to publish to, such as bizevents.orders")
	case !isPublishSubject(e.Subject):
		bad("subject", "must be tokens separated by dots (bizevents.orders), without wildcards (* >), spaces or empty tokens")
	case strings.HasPrefix(e.Subject, "$"):
		bad("subject", "subjects starting with $ are the server's ($JS, $SYS)")
	}
	if e.Stream != "" {
		if strings.ContainsAny(e.Stream, ".*>/\\") {
			bad("stream", "must not hold . * > / or \\")
		}
		brokerName(bad, "stream", e.Stream)
	}
	onlyFor(e, bad, KindQueue, "queue", e.Queue)
	onlyFor(e, bad, KindQueue, "exchange", e.Exchange)
}

// brokerAuth reports an Auth on a queue or a stream, whose credentials are
// in the URL.
func brokerAuth(e Endpoint, bad func(field, format string, args ...any)) {
	if (e.Auth.Type != "" && e.Auth.Type != AuthNone) || e.Auth.Name != "" || e.Auth.Value != "" {
		bad("auth", "applies to web hooks: a %s's credentials are in its URL (use env:NAME to keep them out of the solution)", e.Kind)
	}
}

// brokerName reports a name a broker would refuse: empty, too long, not
// UTF-8, or with spaces or control characters.
func brokerName(bad func(field, format string, args ...any), field, name string) {
	switch {
	case len(name) > maxBrokerName:
		bad(field, "must be at most %d bytes", maxBrokerName)
	case !utf8.ValidString(name):
		bad(field, "must be UTF-8")
	case strings.ContainsFunc(name, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		bad(field, "must not hold spaces or control characters")
	}
}

// isPublishSubject reports whether s is a NATS subject one can publish to:
// non-empty tokens separated by dots, no wildcards, no white space.
func isPublishSubject(s string) bool {
	if s == "" {
		return false
	}
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || strings.ContainsFunc(tok, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '*' || r == '>' }) {
			return false
		}
	}
	return true
}

// BrokerError is a message the broker did not take: it refused it (a
// negative confirm, a destination that does not exist or that the
// credentials may not use, a stream that does not capture the subject),
// or an error of its own. Err is the broker client's error; the message
// never holds the URL, which holds credentials.
type BrokerError struct {
	Endpoint string
	// Err is what the broker or its client said.
	Err error
}

func (e *BrokerError) Error() string {
	return fmt.Sprintf("endpoints: deliver to %s: %v", e.Endpoint, e.Err)
}

// Unwrap returns the broker client's error.
func (e *BrokerError) Unwrap() error { return e.Err }

// ErrorCode is [errcode.Unavailable]: the receiving system did not take
// the delivery.
func (e *BrokerError) ErrorCode() errcode.Code { return errcode.Unavailable }

// publishWithin runs publish, waiting at most until actx ends: a broker
// client does not always take a context, and one stuck waiting for a
// confirm must not hold the job past its Timeout. A publish that is given
// up on goes on in the background, bounded by the client's own timeouts;
// the message may still arrive, which at-least-once delivery allows (the
// receiver deduplicates on the delivery's id).
func publishWithin(actx context.Context, publish func() error) error {
	done := make(chan error, 1)
	go func() { done <- publish() }()
	select {
	case err := <-done:
		return err
	case <-actx.Done():
		return actx.Err()
	}
}

// brokerFailure words an attempt that ended without the broker's word:
// the caller's ctx ended, or the attempt's timeout.
func brokerFailure(ctx, actx context.Context, e *Endpoint) (Attempt, bool) {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Attempt{Retryable: true, Err: fmt.Errorf("endpoints: deliver to %s: %w", e.Name, ctxErr)}, true
	}
	if errors.Is(context.Cause(actx), errAttemptTimeout) {
		return Attempt{Retryable: true, Err: fmt.Errorf("endpoints: deliver to %s: no confirm from the broker within %s: %w", e.Name, e.Timeout, ErrTimeout)}, true
	}
	return Attempt{}, false
}

// pool keeps one connection (and its publisher) per broker URL, dialed on
// first use, shared by every delivery to that URL. Concurrent first
// deliveries wait for one dial; a failed dial is forgotten, so the next
// delivery dials again; a connection found dead (alive false) is closed
// and replaced.
type pool[C any] struct {
	dial  func(url string) (C, error)
	alive func(C) bool
	close func(C) error

	mu     sync.Mutex
	conns  map[string]*pooled[C]
	closed bool
	dials  sync.WaitGroup
}

// pooled is one URL's connection, usable once ready is closed.
type pooled[C any] struct {
	ready chan struct{}
	conn  C
	err   error
}

func newPool[C any](dial func(string) (C, error), alive func(C) bool, closeConn func(C) error) *pool[C] {
	return &pool[C]{dial: dial, alive: alive, close: closeConn, conns: map[string]*pooled[C]{}}
}

// get returns the connection of url, dialing it when there is none, and
// waits for it at most until ctx ends.
func (p *pool[C]) get(ctx context.Context, url string) (*pooled[C], error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, ErrClosed
	}
	pc := p.conns[url]
	if pc != nil && pc.isReady() && pc.err == nil && !p.alive(pc.conn) {
		p.forget(url, pc)
		pc = nil
	}
	if pc == nil {
		pc = &pooled[C]{ready: make(chan struct{})}
		p.conns[url] = pc
		p.dials.Add(1)
		go p.dialInto(url, pc)
	}
	p.mu.Unlock()
	select {
	case <-pc.ready:
		if pc.err != nil {
			return nil, pc.err
		}
		return pc, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (p *pooled[C]) isReady() bool {
	select {
	case <-p.ready:
		return true
	default:
		return false
	}
}

func (p *pool[C]) dialInto(url string, pc *pooled[C]) {
	defer p.dials.Done()
	conn, err := p.dial(url)
	p.mu.Lock()
	switch {
	case err != nil:
		if p.conns[url] == pc {
			delete(p.conns, url)
		}
	case p.closed:
		_ = p.close(conn)
		err = ErrClosed
	}
	pc.conn, pc.err = conn, err
	p.mu.Unlock()
	close(pc.ready)
}

// drop forgets a connection that is broken beyond its own reconnects, so
// that the next delivery dials a new one.
func (p *pool[C]) drop(url string, pc *pooled[C]) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forget(url, pc)
}

// forget removes pc and closes its connection in the background; p.mu is
// held.
func (p *pool[C]) forget(url string, pc *pooled[C]) {
	if p.conns[url] != pc {
		return
	}
	delete(p.conns, url)
	p.dials.Add(1)
	go func() {
		defer p.dials.Done()
		<-pc.ready
		if pc.err == nil {
			_ = p.close(pc.conn)
		}
	}()
}

// closeAll closes every connection and refuses new deliveries with
// [ErrClosed]; it waits for dials in flight.
func (p *pool[C]) closeAll() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var ready []*pooled[C]
	for url, pc := range p.conns {
		if pc.isReady() && pc.err == nil {
			ready = append(ready, pc)
		}
		delete(p.conns, url)
	}
	p.mu.Unlock()
	var errs []error
	for _, pc := range ready {
		errs = append(errs, p.close(pc.conn))
	}
	p.dials.Wait()
	return errors.Join(errs...)
}

// watermillLogger adapts a config's logger for the broker clients: their
// info messages (connected, closing) become debug, warnings and errors
// (connection lost, reconnecting) stay; nil logs nothing.
func watermillLogger(l *slog.Logger) watermill.LoggerAdapter {
	if l == nil {
		return watermill.NopLogger{}
	}
	return watermill.NewSlogLoggerWithLevelMapping(l, map[slog.Level]slog.Level{slog.LevelInfo: slog.LevelDebug})
}
