package endpoints_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/endpoints"
	"github.com/bizevents/bizevents/engine/errcode"
)

// The example of the Standard Webhooks specification.
const (
	vectorID        = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	vectorTimestamp = 1614265330
	vectorBody      = `{"test": 2432232314}`
	vectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

func TestSignStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	got, err := endpoints.Sign([]string{secretA}, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	require.NoError(t, err)
	require.Equal(t, vectorSignature, got)

	two, err := endpoints.Sign([]string{secretB, secretA}, vectorID, time.Unix(vectorTimestamp, 0), []byte(vectorBody))
	require.NoError(t, err)
	parts := strings.Split(two, " ")
	require.Len(t, parts, 2)
	require.Equal(t, vectorSignature, parts[1])

	_, err = endpoints.Sign([]string{"whsec_***"}, vectorID, time.Now(), nil)
	require.ErrorIs(t, err, endpoints.ErrInvalidSecret)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	at := time.Unix(vectorTimestamp, 0)
	headers := func(id, ts, sig string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{"webhook-id": id, "webhook-timestamp": ts, "webhook-signature": sig} {
			if v != "" {
				h.Set(k, v)
			}
		}
		return h
	}
	ts := strconv.Itoa(vectorTimestamp)
	tests := []struct {
		name      string
		secret    string
		h         http.Header
		body      string
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"valid", secretA, headers(vectorID, ts, vectorSignature), vectorBody, at, 0, nil},
		{"valid without the whsec_ prefix", strings.TrimPrefix(secretA, "whsec_"), headers(vectorID, ts, vectorSignature), vectorBody, at, 0, nil},
		{"one of several signatures", secretA, headers(vectorID, ts, "v1,AAAA v2,xyz "+vectorSignature), vectorBody, at, 0, nil},
		{"within tolerance", secretA, headers(vectorID, ts, vectorSignature), vectorBody, at.Add(4 * time.Minute), 0, nil},
		{"wrong secret", secretB, headers(vectorID, ts, vectorSignature), vectorBody, at, 0, endpoints.ErrSignatureMismatch},
		{"tampered body", secretA, headers(vectorID, ts, vectorSignature), `{"test": 2432232315}`, at, 0, endpoints.ErrSignatureMismatch},
		{"another id", secretA, headers("msg_other", ts, vectorSignature), vectorBody, at, 0, endpoints.ErrSignatureMismatch},
		{"only another version", secretA, headers(vectorID, ts, "v2,"+strings.TrimPrefix(vectorSignature, "v1,")), vectorBody, at, 0, endpoints.ErrSignatureMismatch},
		{"old timestamp", secretA, headers(vectorID, ts, vectorSignature), vectorBody, at.Add(6 * time.Minute), 0, endpoints.ErrSignatureTimestamp},
		{"future timestamp", secretA, headers(vectorID, ts, vectorSignature), vectorBody, at.Add(-6 * time.Minute), 0, endpoints.ErrSignatureTimestamp},
		{"tighter tolerance", secretA, headers(vectorID, ts, vectorSignature), vectorBody, at.Add(2 * time.Second), time.Second, endpoints.ErrSignatureTimestamp},
		{"timestamp not seconds", secretA, headers(vectorID, "2021-02-25T15:02:10Z", vectorSignature), vectorBody, at, 0, endpoints.ErrSignatureTimestamp},
		{"no id", secretA, headers("", ts, vectorSignature), vectorBody, at, 0, endpoints.ErrSignatureMissing},
		{"no timestamp", secretA, headers(vectorID, "", vectorSignature), vectorBody, at, 0, endpoints.ErrSignatureMissing},
		{"no signature", secretA, headers(vectorID, ts, ""), vectorBody, at, 0, endpoints.ErrSignatureMissing},
		{"bad secret", "whsec_%%%", headers(vectorID, ts, vectorSignature), vectorBody, at, 0, endpoints.ErrInvalidSecret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := endpoints.Verify(tt.secret, tt.h, []byte(tt.body), tt.now, tt.tolerance)
			if tt.want == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tt.want)
		})
	}
}

func TestSignatureErrorCodes(t *testing.T) {
	t.Parallel()
	for _, err := range []error{endpoints.ErrSignatureMissing, endpoints.ErrSignatureTimestamp, endpoints.ErrSignatureMismatch} {
		require.Equal(t, errcode.Unauthenticated, errcode.Of(err), err.Error())
	}
	require.Equal(t, errcode.InvalidArgument, errcode.Of(endpoints.ErrInvalidSecret))
}

func TestNewSecret(t *testing.T) {
	t.Parallel()
	a, b := endpoints.NewSecret(), endpoints.NewSecret()
	require.NotEqual(t, a, b)
	e := hook("https://erp.example/")
	e.Secrets = []string{a, b}
	require.NoError(t, e.Validate())
	sig, err := endpoints.Sign([]string{a}, "msg_1", time.Unix(1, 0), []byte("x"))
	require.NoError(t, err)
	h := http.Header{"Webhook-Id": {"msg_1"}, "Webhook-Timestamp": {"1"}, "Webhook-Signature": {sig}}
	require.NoError(t, endpoints.Verify(a, h, []byte("x"), time.Unix(1, 0), 0))
	require.ErrorIs(t, endpoints.Verify(b, h, []byte("x"), time.Unix(1, 0), 0), endpoints.ErrSignatureMismatch)
}

func TestHeaderFrom(t *testing.T) {
	t.Parallel()
	amqpLike := map[string]any{"webhook-id": "d-1", "x-count": int32(3), "raw": []byte("b")}
	h := endpoints.HeaderFrom(amqpLike)
	require.Equal(t, "d-1", h.Get("Webhook-Id"))
	require.Equal(t, "3", h.Get("X-Count"))
	require.Equal(t, "b", h.Get("Raw"))
	natsLike := map[string][]string{"webhook-signature": {"v1,a", "v1,b"}}
	require.Equal(t, []string{"v1,a", "v1,b"}, endpoints.HeaderFrom(natsLike).Values("Webhook-Signature"))
}
