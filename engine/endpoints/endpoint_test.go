package endpoints_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/errcode"
)

// fields returns the Field of every *FieldError joined in err.
func fields(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	joined, ok := err.(interface{ Unwrap() []error })
	require.True(t, ok, "Validate joins its problems: %v", err)
	var out []string
	for _, e := range joined.Unwrap() {
		var fe *endpoints.FieldError
		require.ErrorAs(t, e, &fe)
		out = append(out, fe.Field)
	}
	return out
}

func TestEndpointValidate(t *testing.T) {
	t.Parallel()
	ok := hook("https://erp.contoso.example/hooks/bizevents?tenant=7")
	with := func(f func(e *endpoints.Endpoint)) endpoints.Endpoint {
		e := ok
		e.Secrets = append([]string(nil), ok.Secrets...)
		f(&e)
		return e
	}
	tests := []struct {
		name string
		e    endpoints.Endpoint
		want []string
	}{
		{"valid", ok, nil},
		{"valid with everything", with(func(e *endpoints.Endpoint) {
			e.Format = endpoints.FormatCloudEventsBinary
			e.Auth = endpoints.Auth{Type: endpoints.AuthHTTPHeader, Name: "Authorization", Value: "Bearer abc"}
			e.Secrets = []string{secretA, secretB}
			e.Timeout = 0
		}), nil},
		{"http is allowed", with(func(e *endpoints.Endpoint) { e.URL = "http://localhost:8080/x" }), nil},
		{"no name", with(func(e *endpoints.Endpoint) { e.Name = "" }), []string{"name"}},
		{"bad name", with(func(e *endpoints.Endpoint) { e.Name = "Contoso-ERP" }), []string{"name"}},
		{"name with a digit first", with(func(e *endpoints.Endpoint) { e.Name = "1erp" }), []string{"name"}},
		{"one-letter name", with(func(e *endpoints.Endpoint) { e.Name = "e" }), nil},
		{"64-character name", with(func(e *endpoints.Endpoint) { e.Name = "e" + strings.Repeat("_9", 31) + "z" }), nil},
		{"65-character name", with(func(e *endpoints.Endpoint) { e.Name = "e" + strings.Repeat("_9", 32) }), []string{"name"}},
		{"no kind", with(func(e *endpoints.Endpoint) { e.Kind = "" }), []string{"kind"}},
		{"unknown kind", with(func(e *endpoints.Endpoint) { e.Kind = "pulsar" }), []string{"kind"}},
		{"queue field on a web hook", with(func(e *endpoints.Endpoint) { e.Queue = "orders"; e.Stream = "ORDERS" }), []string{"queue", "stream"}},
		{"no url", with(func(e *endpoints.Endpoint) { e.URL = "" }), []string{"url"}},
		{"ftp", with(func(e *endpoints.Endpoint) { e.URL = "ftp://erp.example/x" }), []string{"url"}},
		{"relative", with(func(e *endpoints.Endpoint) { e.URL = "/hooks" }), []string{"url", "url"}},
		{"user in url", with(func(e *endpoints.Endpoint) { e.URL = "https://me:pw@erp.example/" }), []string{"url"}},
		{"unparsable url", with(func(e *endpoints.Endpoint) { e.URL = "https://erp.example/%zz" }), []string{"url"}},
		{"format", with(func(e *endpoints.Endpoint) { e.Format = "xml" }), []string{"format"}},
		{"negative timeout", with(func(e *endpoints.Endpoint) { e.Timeout = -time.Second }), []string{"timeout"}},
		{"auth type", with(func(e *endpoints.Endpoint) { e.Auth.Type = "Basic" }), []string{"auth.type"}},
		{"none with a value", with(func(e *endpoints.Endpoint) { e.Auth.Value = "x" }), []string{"auth"}},
		{"header without name or value", with(func(e *endpoints.Endpoint) { e.Auth = endpoints.Auth{Type: endpoints.AuthHTTPHeader} }),
			[]string{"auth.name", "auth.value"}},
		{"header name not a token", with(func(e *endpoints.Endpoint) {
			e.Auth = endpoints.Auth{Type: endpoints.AuthHTTPHeader, Name: "X Key", Value: "v"}
		}), []string{"auth.name"}},
		{"header that bizevents sets", with(func(e *endpoints.Endpoint) {
			e.Auth = endpoints.Auth{Type: endpoints.AuthHTTPHeader, Name: "Webhook-Signature", Value: "v"}
		}), []string{"auth.name"}},
		{"header value with a line break", with(func(e *endpoints.Endpoint) {
			e.Auth = endpoints.Auth{Type: endpoints.AuthHTTPHeader, Name: "X-Key", Value: "a\r\nX-Evil: 1"}
		}), []string{"auth.value"}},
		{"webhook key without value", with(func(e *endpoints.Endpoint) { e.Auth = endpoints.Auth{Type: endpoints.AuthWebhookKey} }),
			[]string{"auth.value"}},
		{"webhook key with a name", with(func(e *endpoints.Endpoint) {
			e.Auth = endpoints.Auth{Type: endpoints.AuthWebhookKey, Name: "key", Value: "v"}
		}), []string{"auth.name"}},
		{"query string without pairs", with(func(e *endpoints.Endpoint) { e.Auth = endpoints.Auth{Type: endpoints.AuthQueryString} }),
			[]string{"auth.value"}},
		{"query string name without value", with(func(e *endpoints.Endpoint) {
			e.Auth = endpoints.Auth{Type: endpoints.AuthQueryString, Name: "sig"}
		}), []string{"auth.value"}},
		{"query string pairs", with(func(e *endpoints.Endpoint) {
			e.Auth = endpoints.Auth{Type: endpoints.AuthQueryString, Value: "a=1&b=2"}
		}), nil},
		{"secret without prefix", with(func(e *endpoints.Endpoint) { e.Secrets = []string{"MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"} }),
			[]string{"secrets[0]"}},
		{"secret not base64", with(func(e *endpoints.Endpoint) { e.Secrets = []string{secretA, "whsec_not*base64"} }),
			[]string{"secrets[1]"}},
		{"secret too short", with(func(e *endpoints.Endpoint) { e.Secrets = []string{"whsec_c2hvcnQ="} }), []string{"secrets[0]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.e.Validate()
			require.Equal(t, tt.want, fields(t, err))
			if err != nil {
				require.Equal(t, errcode.InvalidArgument, errcode.Of(err))
			}
		})
	}
}

func TestEndpointValidateBrokers(t *testing.T) {
	t.Parallel()
	queue := endpoints.Endpoint{Name: "erp_queue", Kind: endpoints.KindQueue, URL: "amqp://bizevents:pw@rabbit.example:5672/erp", Queue: "erp.orders"}
	stream := endpoints.Endpoint{Name: "erp_stream", Kind: endpoints.KindStream, URL: "nats://token@nats-1.example:4222, nats://nats-2.example:4222",
		Subject: "bizevents.erp.orders", Stream: "ERP_ORDERS"}
	with := func(e endpoints.Endpoint, f func(e *endpoints.Endpoint)) endpoints.Endpoint {
		f(&e)
		return e
	}
	tests := []struct {
		name string
		e    endpoints.Endpoint
		want []string
	}{
		{"queue", queue, nil},
		{"queue with everything", with(queue, func(e *endpoints.Endpoint) {
			e.URL = "amqps://rabbit.example/"
			e.Exchange = "amq.topic"
			e.Format = endpoints.FormatCloudEventsBinary
			e.Secrets = []string{secretA}
		}), nil},
		{"exchange only", with(queue, func(e *endpoints.Endpoint) { e.Queue = ""; e.Exchange = "bizevents" }), nil},
		{"no destination", with(queue, func(e *endpoints.Endpoint) { e.Queue = "" }), []string{"queue"}},
		{"reserved queue", with(queue, func(e *endpoints.Endpoint) { e.Queue = "amq.gen-1" }), []string{"queue"}},
		{"long queue", with(queue, func(e *endpoints.Endpoint) { e.Queue = strings.Repeat("q", 256) }), []string{"queue"}},
		{"queue with a space", with(queue, func(e *endpoints.Endpoint) { e.Queue = "erp orders" }), []string{"queue"}},
		{"exchange with a line break", with(queue, func(e *endpoints.Endpoint) { e.Exchange = "erp\n" }), []string{"exchange"}},
		{"queue over http", with(queue, func(e *endpoints.Endpoint) { e.URL = "https://rabbit.example/" }), []string{"url"}},
		{"queue without host", with(queue, func(e *endpoints.Endpoint) { e.URL = "amqp:///erp" }), []string{"url"}},
		{"queue without url", with(queue, func(e *endpoints.Endpoint) { e.URL = "" }), []string{"url"}},
		{"queue with auth", with(queue, func(e *endpoints.Endpoint) {
			e.Auth = endpoints.Auth{Type: endpoints.AuthHTTPHeader, Name: "X-Key", Value: "v"}
		}), []string{"auth"}},
		{"queue with a subject", with(queue, func(e *endpoints.Endpoint) { e.Subject = "a.b" }), []string{"subject"}},
		{"stream", stream, nil},
		{"stream without a stream", with(stream, func(e *endpoints.Endpoint) { e.Stream = "" }), nil},
		{"tls stream", with(stream, func(e *endpoints.Endpoint) { e.URL = "tls://nats.example:4443" }), nil},
		{"no subject", with(stream, func(e *endpoints.Endpoint) { e.Subject = "" }), []string{"subject"}},
		{"wildcard subject", with(stream, func(e *endpoints.Endpoint) { e.Subject = "bizevents.*" }), []string{"subject"}},
		{"empty token", with(stream, func(e *endpoints.Endpoint) { e.Subject = "bizevents..orders" }), []string{"subject"}},
		{"system subject", with(stream, func(e *endpoints.Endpoint) { e.Subject = "$JS.API.INFO" }), []string{"subject"}},
		{"stream name with a dot", with(stream, func(e *endpoints.Endpoint) { e.Stream = "erp.orders" }), []string{"stream"}},
		{"stream over amqp", with(stream, func(e *endpoints.Endpoint) { e.URL = "amqp://rabbit.example/" }), []string{"url"}},
		{"second server not a URL", with(stream, func(e *endpoints.Endpoint) { e.URL = "nats://a.example,b.example" }), []string{"url"}},
		{"stream with a queue", with(stream, func(e *endpoints.Endpoint) { e.Queue = "orders"; e.Exchange = "x" }), []string{"queue", "exchange"}},
		{"stream with auth", with(stream, func(e *endpoints.Endpoint) { e.Auth = endpoints.Auth{Type: endpoints.AuthWebhookKey, Value: "k"} }),
			[]string{"auth"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.e.Validate()
			require.Equal(t, tt.want, fields(t, err))
			if err != nil {
				require.NotContains(t, err.Error(), "pw@", "a URL's password is never quoted")
			}
		})
	}
}

// TestEndpointValidateEveryProblem checks that one call lists every
// problem, by field, and quotes no credential.
func TestEndpointValidateEveryProblem(t *testing.T) {
	t.Parallel()
	e := endpoints.Endpoint{
		Name:    "Bad Name",
		Kind:    "pulsar",
		URL:     "ftp://",
		Auth:    endpoints.Auth{Type: endpoints.AuthHTTPHeader, Name: "Content-Type", Value: "top-secret\n"},
		Format:  "soap",
		Timeout: -1,
		Secrets: []string{"plain-secret-value", "whsec_!!!!"},
	}
	err := e.Validate()
	require.Equal(t, []string{"name", "kind", "auth.name", "auth.value", "format", "timeout", "secrets[0]", "secrets[1]"}, fields(t, err))
	msg := err.Error()
	for _, secret := range []string{"top-secret", "plain-secret-value", "!!!!"} {
		require.NotContains(t, msg, secret)
	}
	require.True(t, strings.HasPrefix(msg, `endpoint "Bad Name": name:`), msg)
	var fe *endpoints.FieldError
	require.True(t, errors.As(err, &fe))
	require.Equal(t, "Bad Name", fe.Endpoint)
}

func TestEndpointWithDefaults(t *testing.T) {
	t.Parallel()
	e := endpoints.Endpoint{Name: "x", Kind: endpoints.KindWebhook, URL: "https://a.example"}.WithDefaults()
	require.Equal(t, endpoints.FormatContext, e.Format)
	require.Equal(t, endpoints.AuthNone, e.Auth.Type)
	require.Equal(t, endpoints.DefaultTimeout, e.Timeout)
	require.Equal(t, 60*time.Second, e.Timeout)
	e = endpoints.Endpoint{Format: endpoints.FormatCloudEventsBinary, Timeout: time.Second}.WithDefaults()
	require.Equal(t, endpoints.FormatCloudEventsBinary, e.Format)
	require.Equal(t, time.Second, e.Timeout)
}
