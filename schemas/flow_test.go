package schemas_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/bizevents/bizevents/schemas"
)

// TestFlowSchemaValid checks that each flow of a flows file using every
// trigger and action kind, nested, passes flow.schema.json.
func TestFlowSchemaValid(t *testing.T) {
	t.Parallel()
	flow, err := compiler(t).Compile(schemas.BaseURL + schemas.Flow)
	require.NoError(t, err)

	data, err := os.ReadFile(filepath.Join("testdata", "flows.yaml"))
	require.NoError(t, err)
	doc := yamlValue(t, string(data))
	flows := doc.(map[string]any)["flows"].([]any)
	require.Len(t, flows, 4)
	for _, f := range flows {
		require.NoError(t, flow.Validate(f))
	}

	// Every action kind is used somewhere.
	kinds := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["name"]; ok {
				for _, k := range actionKinds {
					if _, ok := v[k]; ok {
						kinds[k] = true
					}
				}
			}
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(flows)
	for _, k := range actionKinds {
		require.True(t, kinds[k], "testdata/flows.yaml has no %s action", k)
	}
}

var actionKinds = []string{"execute", "http", "setVariable", "appendVariable", "compose", "condition", "switch", "forEach", "delay", "terminate", "scope", "response"}

// TestFlowSchemaInvalid checks that malformed flows fail flow.schema.json
// with the errors a loader words: each want is the instance location and
// the kind of a leaf error.
func TestFlowSchemaInvalid(t *testing.T) {
	t.Parallel()
	flow, err := compiler(t).Compile(schemas.BaseURL + schemas.Flow)
	require.NoError(t, err)

	const trigger = "trigger: {schedule: {every: 1h}}\n"
	for _, tc := range []struct {
		name string
		flow string
		want []string
	}{
		{
			name: "two kinds in one action",
			flow: trigger + "actions: [{name: a, compose: {value: 1}, terminate: {status: failed}}]",
			want: []string{"/actions/0 additionalProperties compose", "/actions/0 additionalProperties terminate"},
		},
		{
			name: "no kind",
			flow: trigger + "actions: [{name: a, runAfter: [failed]}]",
			want: []string{"/actions/0 required execute,http,setVariable,appendVariable,compose,condition,switch,forEach,delay,terminate,scope,response"},
		},
		{
			name: "two kinds in a nested action",
			flow: trigger + "actions: [{name: s, scope: {actions: [{name: a, http: {url: x}, delay: {for: 1s}}]}}]",
			want: []string{"/actions/0/scope/actions/0 additionalProperties delay", "/actions/0/scope/actions/0 additionalProperties http"},
		},
		{
			name: "unknown key in an action",
			flow: trigger + "actions: [{name: a, compose: {value: 1}, colour: red}]",
			want: []string{"/actions/0 additionalProperties colour"},
		},
		{
			name: "unknown key in a flow",
			flow: trigger + "actions: [{name: a, compose: {value: 1}}]\nschedule: daily",
			want: []string{" additionalProperties schedule"},
		},
		{
			name: "unknown key in an action kind",
			flow: trigger + "actions: [{name: a, execute: {message: Create, tabel: account}}]",
			want: []string{"/actions/0/execute additionalProperties tabel"},
		},
		{
			name: "bad runAfter status",
			flow: trigger + "actions: [{name: a, compose: {value: 1}, runAfter: [done]}]",
			want: []string{"/actions/0/runAfter/0 enum"},
		},
		{
			name: "bad duration",
			flow: trigger + "actions: [{name: a, compose: {value: 1}, timeout: soon}]",
			want: []string{"/actions/0/timeout pattern"},
		},
		{
			name: "negative duration",
			flow: trigger + "actions: [{name: a, delay: {for: -1m}}]",
			want: []string{"/actions/0/delay/for pattern"},
		},
		{
			name: "bad schedule",
			flow: "trigger: {schedule: {every: daily}}\nactions: [{name: a, compose: {value: 1}}]",
			want: []string{"/trigger/schedule/every pattern"},
		},
		{
			name: "missing trigger",
			flow: "name: f\nactions: [{name: a, compose: {value: 1}}]",
			want: []string{" required trigger"},
		},
		{
			name: "empty trigger",
			flow: "trigger: {filter: 'true'}\nactions: [{name: a, compose: {value: 1}}]",
			want: []string{"/trigger required action,table,schedule,request"},
		},
		{
			name: "two triggers",
			flow: "trigger: {schedule: {every: 1h}, table: {name: account}}\nactions: [{name: a, compose: {value: 1}}]",
			want: []string{"/trigger additionalProperties schedule", "/trigger additionalProperties table"},
		},
		{
			name: "filter on a request trigger",
			flow: "trigger: {request: {uniqueName: x_Do}, filter: 'true'}\nactions: [{name: a, compose: {value: 1}}]",
			want: []string{"/trigger additionalProperties filter"},
		},
		{
			name: "no actions",
			flow: trigger + "actions: []",
			want: []string{"/actions minItems"},
		},
		{
			name: "bad variable type",
			flow: trigger + "variables: [{name: n, type: int}]\nactions: [{name: a, compose: {value: 1}}]",
			want: []string{"/variables/0/type enum"},
		},
		{
			name: "bad names",
			flow: "name: 1flow\n" + trigger + "variables: [{name: a-b, type: string}]\nactions: [{name: 'my action', compose: {value: 1}}]",
			want: []string{"/name pattern", "/variables/0/name pattern", "/actions/0/name pattern"},
		},
		{
			name: "concurrency 0",
			flow: trigger + "actions: [{name: l, forEach: {items: x, concurrency: 0, actions: []}}]",
			want: []string{"/actions/0/forEach/concurrency minimum"},
		},
		{
			name: "concurrency 51",
			flow: trigger + "actions: [{name: l, forEach: {items: x, concurrency: 51, actions: []}}]",
			want: []string{"/actions/0/forEach/concurrency maximum"},
		},
		{
			name: "delay with both",
			flow: trigger + "actions: [{name: d, delay: {for: 1s, until: x}}]",
			want: []string{"/actions/0/delay additionalProperties for", "/actions/0/delay additionalProperties until"},
		},
		{
			name: "delay with neither",
			flow: trigger + "actions: [{name: d, delay: {}}]",
			want: []string{"/actions/0/delay required for,until"},
		},
		{
			name: "bad terminate status",
			flow: trigger + "actions: [{name: t, terminate: {status: cancelled}}]",
			want: []string{"/actions/0/terminate/status enum"},
		},
		{
			name: "bad http",
			flow: trigger + "actions: [{name: h, http: {method: FETCH, url: x, auth: {type: header}, accept: [700]}}]",
			want: []string{"/actions/0/http/method enum", "/actions/0/http/auth required name", "/actions/0/http/accept/0 maximum"},
		},
		{
			name: "bad request parameter type",
			flow: "trigger: {request: {uniqueName: x_Do, requestParameters: [{uniqueName: P, type: Text}]}}\nactions: [{name: a, compose: {value: 1}}]",
			want: []string{"/trigger/request/requestParameters/0/type enum"},
		},
		{
			name: "switch without cases",
			flow: trigger + "actions: [{name: s, switch: {on: x, cases: []}}]",
			want: []string{"/actions/0/switch/cases minItems"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			doc := yamlValue(t, tc.flow)
			if m := doc.(map[string]any); m["name"] == nil {
				m["name"] = "f"
			}
			err := flow.Validate(doc)
			require.Error(t, err)
			var ve *jsonschema.ValidationError
			require.True(t, errors.As(err, &ve), "%v", err)
			require.ElementsMatch(t, tc.want, leaves(ve), "%v", err)
		})
	}
}

// leaves describes the leaf errors of a validation, as the loader walks
// them: the instance location, the keyword and, for required and
// additionalProperties, the keys.
func leaves(e *jsonschema.ValidationError) []string {
	if len(e.Causes) > 0 {
		var out []string
		for _, c := range e.Causes {
			out = append(out, leaves(c)...)
		}
		return out
	}
	s := ""
	if len(e.InstanceLocation) > 0 {
		s = "/" + strings.Join(e.InstanceLocation, "/")
	}
	path := e.ErrorKind.KeywordPath()
	s += " " + path[len(path)-1]
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		s += " " + strings.Join(k.Missing, ",")
	case *kind.AdditionalProperties:
		s += " " + strings.Join(k.Properties, ",")
	}
	return []string{s}
}

// yamlValue decodes a YAML document into the JSON values a validator takes.
func yamlValue(t *testing.T, src string) any {
	t.Helper()
	var v any
	require.NoError(t, yaml.Unmarshal([]byte(src), &v))
	data, err := json.Marshal(v)
	require.NoError(t, err)
	var out any
	require.NoError(t, json.Unmarshal(data, &out))
	return out
}
