package endpoints

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEncodeMatchesJSON holds the hand-written encoder to what
// encoding/json writes (without HTML escaping), byte for byte.
func TestEncodeMatchesJSON(t *testing.T) {
	t.Parallel()
	tricky := "q\"b\\s/\n\r\t\b\f\x01\x1f\x7f <>& \u2028\u2029 \xff\xc3 é€😀"
	raw := json.RawMessage(`{"__type":"Entity:x","Attributes":[{"key":"n","value":12345678901234567890.5}]}`)
	contexts := []*ExecutionContext{
		{},
		{
			MessageName: tricky, PrimaryEntityName: "account", PrimaryEntityID: nilGUID, Stage: 40, Mode: 1, Depth: 2,
			UserID: "u", InitiatingUserID: "i", CorrelationID: "c", RequestID: "r", OperationID: tricky,
			OperationCreatedOn: time.Date(2026, 3, 1, 12, 30, 45, 123456789, time.FixedZone("x", 3600)),
			OrganizationName:   "env", InputParameters: Parameters{{Key: "Target", Value: raw}, {Key: tricky, Value: json.RawMessage(`"s"`)}},
			OutputParameters: Parameters{{Key: "id", Value: nil}}, SharedVariables: Parameters{},
			PreEntityImages: Parameters{{Key: "before", Value: raw}}, PostEntityImages: nil,
			EventID: "e", Position: 1 << 62, StreamID: tricky, StreamVersion: -1, Solution: "s", StepName: tricky,
		},
	}
	for i, c := range contexts {
		got, err := appendContext(nil, c)
		require.NoError(t, err)
		want, err := marshal(normalized(c))
		require.NoError(t, err)
		require.Equal(t, string(want), string(got), "context %d", i)
		require.True(t, json.Valid(got))

		for _, replay := range []bool{false, true} {
			ce := newCloudEvent(tricky, c, replay)
			got, err := appendCloudEvent(nil, ce)
			require.NoError(t, err)
			ce.Data = normalized(c)
			want, err := marshal(ce)
			require.NoError(t, err)
			require.Equal(t, string(want), string(got), "envelope %d", i)
		}
	}
}

// normalized is c with nil collections empty, as appendContext writes them.
func normalized(c *ExecutionContext) *ExecutionContext {
	cp := *c
	for _, p := range []*Parameters{&cp.InputParameters, &cp.OutputParameters, &cp.SharedVariables, &cp.PreEntityImages, &cp.PostEntityImages} {
		if *p == nil {
			*p = Parameters{}
		}
	}
	return &cp
}

func TestEncodeRefusesInvalidRaw(t *testing.T) {
	t.Parallel()
	c := &ExecutionContext{OutputParameters: Parameters{{Key: "a", Value: json.RawMessage(`1`)}, {Key: "b", Value: json.RawMessage(`{"x":`)}}}
	_, err := appendContext(nil, c)
	require.ErrorContains(t, err, `OutputParameters[1] (key "b")`)
	_, err = appendContext(nil, &ExecutionContext{OperationCreatedOn: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)})
	require.Error(t, err)
}
