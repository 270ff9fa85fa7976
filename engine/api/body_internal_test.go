package api

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
)

func TestDecodeObject(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		body  string
		names int
		err   string
	}{
		{"empty", ``, 0, ""},
		{"flat", `{"a":1,"b":"x"}`, 2, ""},
		{"colons and quotes in strings", `{"a":"k:v \"q:\" \\","b":{"c":":"}}`, 2, ""},
		{"nested names do not count", `{"a":{"b":1,"c":[{"d":2}]}}`, 1, ""},
		{"same name twice", `{"a":1,"b":2,"a":3}`, 0, `names "a" twice`},
		{"same name twice, nested elsewhere", `{"x":{"a":1},"a":1,"a":2}`, 0, `names "a" twice`},
		{"array", `[1,2]`, 0, "must be a JSON object"},
		{"trailing", `{"a":1} {"b":2}`, 0, "data after"},
		{"malformed", `{"a":}`, 0, "not valid JSON"},
		{"bad utf-8", "{\"a\":\"\xff\"}", 0, "UTF-8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			obj, err := decodeObject([]byte(tt.body))
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.Equal(t, errcode.InvalidArgument, errcode.Of(err))
				return
			}
			require.NoError(t, err)
			require.Len(t, obj, tt.names)
		})
	}
}
