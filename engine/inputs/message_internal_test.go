package inputs

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
)

func TestRequest(t *testing.T) {
	t.Parallel()
	in := Input{Name: "erp", Message: "erp_InvoicePosted", User: uuid.MustParse("0c6f8d0e-0000-4000-8000-000000000001")}
	corr := uuid.MustParse("0c6f8d0e-0000-4000-8000-0000000000c0")
	ceCorr := uuid.MustParse("0c6f8d0e-0000-4000-8000-0000000000ce")
	for _, tc := range []struct {
		name, id, body string
		headers        map[string]string
		want           pipeline.Request
		code           errcode.Code
		reason         string
	}{
		{name: "plain", id: "m-1", body: `{"Amount": 1.50, "InvoiceNumber": "INV-1"}`, headers: map[string]string{HeaderCorrelationID: corr.String()},
			want: pipeline.Request{Parameters: map[string]any{"Amount": json.Number("1.50"), "InvoiceNumber": "INV-1"}, IdempotencyKey: "m-1", CorrelationID: corr}},
		{name: "empty body", id: "m-2", body: " \n", want: pipeline.Request{Parameters: map[string]any{}, IdempotencyKey: "m-2"}},
		{name: "correlation id that is no GUID", body: `{}`, headers: map[string]string{HeaderCorrelationID: "abc"},
			want: pipeline.Request{Parameters: map[string]any{}}},
		{name: "cloudevent", body: `{"specversion":"1.0","id":"e-1","source":"/erp","type":"x","correlationid":"` + ceCorr.String() + `","data":{"A":true}}`,
			want: pipeline.Request{Parameters: map[string]any{"A": true}, IdempotencyKey: "cloudevent:/erp e-1", CorrelationID: ceCorr}},
		{name: "cloudevent with a message id and a header", id: "m-3", headers: map[string]string{HeaderCorrelationID: corr.String()},
			body: `{"specversion":"1.0","id":"e-1","source":"/erp","type":"x","datacontenttype":"application/vnd.erp+json; charset=utf-8","correlationid":"` + ceCorr.String() + `"}`,
			want: pipeline.Request{Parameters: map[string]any{}, IdempotencyKey: "m-3", CorrelationID: corr}},
		{name: "not JSON", body: `{"a":`, code: errcode.InvalidArgument, reason: "not valid JSON"},
		{name: "not UTF-8", body: "{\"a\":\"\xff\"}", code: errcode.InvalidArgument, reason: "UTF-8"},
		{name: "trailing data", body: `{} {}`, code: errcode.InvalidArgument, reason: "data after"},
		{name: "array", body: `[]`, code: errcode.InvalidArgument, reason: "must be a JSON object"},
		{name: "cloudevent 0.3", body: `{"specversion":"0.3","id":"1","source":"s","type":"t"}`, code: errcode.InvalidArgument, reason: "specversion 0.3"},
		{name: "cloudevent without id", body: `{"specversion":"1.0","source":"s"}`, code: errcode.InvalidArgument, reason: "has no id, type"},
		{name: "cloudevent xml", body: `{"specversion":"1.0","id":"1","source":"s","type":"t","datacontenttype":"text/xml"}`, code: errcode.InvalidArgument, reason: "not JSON"},
		{name: "cloudevent base64", body: `{"specversion":"1.0","id":"1","source":"s","type":"t","data_base64":"e30="}`, code: errcode.InvalidArgument, reason: "data_base64"},
		{name: "cloudevent string data", body: `{"specversion":"1.0","id":"1","source":"s","type":"t","data":"x"}`, code: errcode.InvalidArgument, reason: "not a string"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			msg := message.NewMessage(tc.id, []byte(tc.body))
			for k, v := range tc.headers {
				msg.Metadata.Set(k, v)
			}
			req, err := request(in, msg)
			if tc.code != "" {
				require.Error(t, err)
				require.Equal(t, tc.code, errcode.Of(err))
				require.False(t, Retryable(err))
				require.Contains(t, err.Error(), tc.reason)
				return
			}
			require.NoError(t, err)
			tc.want.Message, tc.want.Caller = in.Message, pipeline.Caller{UserID: in.User}
			require.Equal(t, tc.want, req)
		})
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	for code, want := range map[errcode.Code]bool{
		errcode.Unavailable: true, errcode.Internal: true, errcode.Canceled: true, errcode.RateLimited: true, errcode.VersionConflict: true,
		errcode.InvalidValue: false, errcode.InvalidArgument: false, errcode.NotFound: false, errcode.HandlerFailed: false, errcode.DepthExceeded: false,
	} {
		require.Equal(t, want, Retryable(&pipeline.Error{Code: code, Message: "x"}), code)
	}
	require.True(t, Retryable(errors.New("no code: internal")))
}

func TestDeadLetterMessage(t *testing.T) {
	t.Parallel()
	msg := message.NewMessage("m-1", []byte(`{"a":1}`))
	msg.Metadata.Set("x-erp-batch", "7")
	msg.Metadata.Set("_watermill_amqp_redelivered", "true")
	long := strings.Repeat("é", MaxErrorHeader)
	dl := deadLetter(Input{Name: "erp"}, msg, &pipeline.Error{Code: errcode.InvalidValue, Message: long})
	require.Equal(t, "m-1", dl.UUID)
	require.Equal(t, msg.Payload, dl.Payload)
	require.Equal(t, "7", dl.Metadata.Get("x-erp-batch"))
	require.Empty(t, dl.Metadata.Get("_watermill_amqp_redelivered"))
	require.Equal(t, "invalid_value", dl.Metadata.Get(HeaderErrorCode))
	require.Equal(t, "erp", dl.Metadata.Get(HeaderInput))
	require.Equal(t, "m-1", dl.Metadata.Get(HeaderMessageID))
	reason := dl.Metadata.Get(HeaderError)
	require.LessOrEqual(t, len(reason), MaxErrorHeader)
	require.True(t, strings.HasSuffix(reason, "…"))
	require.True(t, strings.HasPrefix(reason, "éé"))
}

func TestSubjectMatches(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		pattern, subject string
		want             bool
	}{
		{"a.b", "a.b", true}, {"a.b", "a.b.c", false}, {"a.*", "a.b", true}, {"a.*", "a.b.c", false},
		{"a.>", "a.b.c", true}, {"a.>", "a", false}, {">", "a", true}, {"a.*.c", "a.b.c", true}, {"a.b", "a", false},
	} {
		require.Equal(t, tc.want, subjectMatches(tc.pattern, tc.subject), "%s ~ %s", tc.pattern, tc.subject)
	}
}
