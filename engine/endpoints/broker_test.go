package endpoints_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
)

// brokerNow is the clock of the broker tests' senders, so that the
// webhook-timestamp, and so the signature, is the one a web hook sends.
var brokerNow = time.Date(2026, 3, 1, 12, 31, 0, 0, time.UTC)

func fixedNow() time.Time { return brokerNow }

// webhookSends is what a web hook endpoint of format f receives for d:
// the body and headers a queue or a stream must carry as well.
func webhookSends(t *testing.T, f endpoints.Format, secrets []string, d endpoints.Delivery) received {
	t.Helper()
	srv, got := receiver(t, nil)
	w := newWebhook(t, endpoints.WebhookConfig{Now: fixedNow})
	e := hook(srv.URL)
	e.Format = f
	e.Secrets = secrets
	a := w.Deliver(context.Background(), e, d)
	require.NoError(t, a.Err)
	return next(t, got)
}

// requireSameHeaders checks that a broker message carries the headers the
// web hook sent, but those that are HTTP's own and skip.
func requireSameHeaders(t *testing.T, hook http.Header, msg http.Header, skip ...string) {
	t.Helper()
	for name, v := range hook {
		switch name {
		case "User-Agent", "Idempotency-Key", "Content-Length", "Accept-Encoding":
			continue
		}
		if slices.Contains(skip, name) {
			continue
		}
		require.Equal(t, v, msg.Values(name), name)
	}
}

// proxy is a TCP proxy to a broker that a test can cut, as a network
// failure or a broker restart would.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

// newProxy listens on a loopback port and forwards to target until the
// test ends.
func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &proxy{ln: ln, target: target}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
		p.wg.Wait()
	})
	return p
}

// addr is the proxy's host:port.
func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.DialTimeout("tcp", p.target, 5*time.Second)
		if err != nil {
			_ = c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, up)
		p.mu.Unlock()
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	_ = dst.Close()
	_ = src.Close()
}

// cut closes every connection through the proxy; new ones still go
// through.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		_ = c.Close()
	}
	p.conns = nil
}

// untilDelivered delivers until an attempt succeeds, at most for wait,
// requiring every failed attempt to be retryable, as a job runner would
// retry it; it returns how many attempts failed.
func untilDelivered(t *testing.T, deliver func() endpoints.Attempt) int {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	failed := 0
	for {
		a := deliver()
		if a.Err == nil {
			return failed
		}
		require.True(t, a.Retryable, "a lost connection is retryable: %v", a.Err)
		var ne *endpoints.NetworkError
		var be *endpoints.BrokerError
		require.True(t, errors.As(a.Err, &ne) || errors.As(a.Err, &be) || errors.Is(a.Err, endpoints.ErrTimeout), "%v", a.Err)
		failed++
		require.True(t, time.Now().Before(deadline), "not delivered again within 30 s: %v", a.Err)
		time.Sleep(100 * time.Millisecond)
	}
}

// silentServer accepts connections and never answers, until the test
// ends; it returns its host:port.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}
