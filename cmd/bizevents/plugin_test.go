package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// pluginTestTimeout bounds a plugin test: it may build a module with go
// (a few seconds warm, more on a cold build cache) and compile it with
// wazero (about ten seconds under -race, once per module version: the
// compilation cache on disk keeps it).
const pluginTestTimeout = 5 * time.Minute

// pluginCLI runs a command line as main does and returns the exit code and
// the output.
func pluginCLI(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	env := &cliEnv{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut, getenv: func(string) string { return "" }}
	code = run(ctx, args, env)
	return code, out.String(), errOut.String()
}

func pluginCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), pluginTestTimeout)
	t.Cleanup(cancel)
	return ctx
}

// builtPlugin is a plugin module built by the commands, with what they
// printed.
type builtPlugin struct {
	// newOut, newErr: plugin new's output (the scaffold only); goMod and
	// contextJSON the files it wrote.
	newOut, newErr     string
	goMod, contextJSON string
	// buildOut, buildErr: plugin build's output; wasm the module.
	buildOut, buildErr string
	wasm               []byte
	err                error
}

var (
	scaffoldOnce, stampOnce   sync.Once
	scaffoldBuilt, stampBuilt builtPlugin
)

// scaffoldPlugin runs plugin new and plugin build once per test binary, in
// a folder removed right after, and returns the results.
func scaffoldPlugin(t *testing.T) *builtPlugin {
	t.Helper()
	scaffoldOnce.Do(func() {
		b := &scaffoldBuilt
		ctx, cancel := context.WithTimeout(context.Background(), pluginTestTimeout)
		defer cancel()
		dir, err := os.MkdirTemp("", "bizevents-plugin-test-")
		if err != nil {
			b.err = err
			return
		}
		defer os.RemoveAll(dir)
		proj := filepath.Join(dir, "contoso_check")
		var code int
		if code, b.newOut, b.newErr = pluginCLI(ctx, "plugin", "new", "contoso_check", "--dir", proj); code != exitOK {
			b.err = fmt.Errorf("plugin new: exit %d\n%s", code, b.newErr)
			return
		}
		goMod, err1 := os.ReadFile(filepath.Join(proj, "go.mod"))
		contextJSON, err2 := os.ReadFile(filepath.Join(proj, "context.json"))
		if err1 != nil || err2 != nil {
			b.err = fmt.Errorf("read the scaffold: %v, %v", err1, err2)
			return
		}
		b.goMod, b.contextJSON = string(goMod), string(contextJSON)
		if code, b.buildOut, b.buildErr = pluginCLI(ctx, "plugin", "build", proj); code != exitOK {
			b.err = fmt.Errorf("plugin build: exit %d\n%s", code, b.buildErr)
			return
		}
		b.wasm, b.err = os.ReadFile(filepath.Join(proj, "contoso_check.wasm"))
	})
	require.NoError(t, scaffoldBuilt.err)
	return &scaffoldBuilt
}

// stampPlugin builds testdata/plugin/stamp once per test binary.
func stampPlugin(t *testing.T) *builtPlugin {
	t.Helper()
	stampOnce.Do(func() {
		b := &stampBuilt
		ctx, cancel := context.WithTimeout(context.Background(), pluginTestTimeout)
		defer cancel()
		dir, err := os.MkdirTemp("", "bizevents-plugin-test-")
		if err != nil {
			b.err = err
			return
		}
		defer os.RemoveAll(dir)
		out := filepath.Join(dir, "stamp.wasm")
		var code int
		if code, b.buildOut, b.buildErr = pluginCLI(ctx, "plugin", "build", filepath.Join("testdata", "plugin", "stamp"), "-o", out); code != exitOK {
			b.err = fmt.Errorf("plugin build: exit %d\n%s", code, b.buildErr)
			return
		}
		b.wasm, b.err = os.ReadFile(out)
	})
	require.NoError(t, stampBuilt.err)
	return &stampBuilt
}

// pluginWriteFile writes content to name in a new temporary folder and returns
// its path.
func pluginWriteFile(t *testing.T, name string, content []byte) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, content, 0o644))
	return path
}

// pluginRepoRoot finds the bizevents checkout above the working directory, the
// way a developer would: the first go.mod of module
// github.com/bizevents/bizevents.
func pluginRepoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			regexp.MustCompile(`(?m)^module github\.com/bizevents/bizevents$`).Match(b) {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no bizevents go.mod above the working directory")
		dir = parent
	}
}

// pluginGoLine returns the go version a go.mod declares.
func pluginGoLine(t *testing.T, gomod string) string {
	t.Helper()
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindStringSubmatch(gomod)
	require.NotNil(t, m, gomod)
	return m[1]
}

// pluginEditContext returns the scaffold's context.json with changes applied at
// the top level and in input.
func pluginEditContext(t *testing.T, base string, top, input map[string]any) []byte {
	t.Helper()
	var doc map[string]any
	dec := json.NewDecoder(strings.NewReader(base))
	dec.UseNumber()
	require.NoError(t, dec.Decode(&doc))
	for k, v := range top {
		doc[k] = v
	}
	in, _ := doc["input"].(map[string]any)
	for k, v := range input {
		if v == nil {
			delete(in, k)
			continue
		}
		in[k] = v
	}
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	return b
}

func pluginDecodeReport(t *testing.T, s string) pluginTestJSON {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	var r pluginTestJSON
	require.NoError(t, dec.Decode(&r), s)
	require.False(t, dec.More(), "one object")
	return r
}

func TestPluginScaffold(t *testing.T) {
	t.Parallel()
	b := scaffoldPlugin(t)

	// plugin new
	require.Contains(t, b.newOut, "created plugin contoso_check in ")
	for _, f := range []string{"go.mod", "main.go", "context.json", "README.md", ".gitignore"} {
		require.Regexp(t, `\n  \S+`+regexp.QuoteMeta(string(filepath.Separator)+f)+`\n`, b.newOut)
	}
	require.Contains(t, b.newOut, "next:\n  bizevents plugin build ")
	require.Empty(t, b.newErr, "the SDK was found: no note")
	root := pluginRepoRoot(t)
	require.Contains(t, b.goMod, "module example.com/contoso_check\n")
	require.Contains(t, b.goMod, "\nrequire github.com/bizevents/bizevents v0.0.0-00010101000000-000000000000\n")
	require.Contains(t, b.goMod, "\nreplace github.com/bizevents/bizevents => "+root+"\n")
	rootMod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	require.NoError(t, err)
	require.Equal(t, pluginGoLine(t, string(rootMod)), pluginGoLine(t, b.goMod), "a module's go line is at least its dependencies'")

	// plugin build
	m := regexp.MustCompile(`^built (\S+) \((\d+) bytes, sha256:([0-9a-f]{64})\)\n$`).FindStringSubmatch(b.buildOut)
	require.NotNil(t, m, b.buildOut)
	require.True(t, strings.HasSuffix(m[1], string(filepath.Separator)+"contoso_check.wasm"), m[1])
	require.Equal(t, strconv.Itoa(len(b.wasm)), m[2])
	sum := sha256.Sum256(b.wasm)
	require.Equal(t, hex.EncodeToString(sum[:]), m[3])

	// plugin test on the sample context
	wasm := pluginWriteFile(t, "contoso_check.wasm", b.wasm)
	ctxFile := pluginWriteFile(t, "context.json", []byte(b.contextJSON))
	t.Run("Text", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := pluginCLI(pluginCtx(t), "plugin", "test", wasm, "--context", ctxFile)
		require.Equal(t, exitOK, code, errOut)
		require.Empty(t, errOut)
		require.Regexp(t, `^result:   ok\n`+
			`handler:  ValidateAmount \(module contoso_check, sha256:[0-9a-f]{12}\)\n`+
			`duration: \S+\n`+
			`output:   \(none\)\n`+
			`shared:\n  validated_amount = 12.5\n`+
			`trace:\n  amount 12.5 is valid\n$`, out)
	})
	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := pluginCLI(pluginCtx(t), "plugin", "test", wasm, "--context", ctxFile, "--json")
		require.Equal(t, exitOK, code, errOut)
		r := pluginDecodeReport(t, out)
		require.True(t, r.OK)
		require.Equal(t, "ValidateAmount", r.Handler)
		require.Empty(t, r.Code)
		require.Empty(t, r.Message)
		require.Equal(t, map[string]any{}, r.Output)
		require.Equal(t, map[string]any{"validated_amount": json.Number("12.5")}, r.Shared)
		require.Nil(t, r.Target)
		require.Equal(t, []string{"amount 12.5 is valid"}, r.Trace)
		require.Positive(t, r.DurationUS)
	})
}

func TestPluginTestOutcomes(t *testing.T) {
	t.Parallel()
	b := scaffoldPlugin(t)
	wasm := pluginWriteFile(t, "contoso_check.wasm", b.wasm)
	for _, tt := range []struct {
		name         string
		top, input   map[string]any
		args         []string
		wantCode     int
		wantMessage  string // of a failed handler
		wantStdout   []string
		wantJSONCode string
	}{
		{
			name:       "Passes",
			input:      map[string]any{"Amount": json.Number("0.000")},
			wantCode:   exitOK,
			wantStdout: []string{"result:   ok\n", "validated_amount = 0\n", "amount 0 is valid"},
		},
		{
			name:        "NegativeAmount",
			input:       map[string]any{"Amount": json.Number("-3.25")},
			wantCode:    exitFailure,
			wantMessage: "the amount -3.25 is negative: record a refund instead",
			wantStdout:  []string{"shared:   (none)\n", "trace:    (none)\n"},
		},
		{
			name:        "NoAmount",
			input:       map[string]any{"Amount": nil},
			wantCode:    exitFailure,
			wantMessage: "contoso_CustomerPurchase has no Amount parameter",
		},
		{
			name:        "AmountNotANumber",
			input:       map[string]any{"Amount": "twelve"},
			wantCode:    exitFailure,
			wantMessage: "parameter Amount: ",
		},
		{
			name:        "HandlerFlag",
			args:        []string{"--handler", "Refund"},
			wantCode:    exitFailure,
			wantMessage: `handler "Refund" is not registered in this module; it has ValidateAmount`,
		},
		{
			name:        "HandlerKey",
			top:         map[string]any{"handler": "Refund"},
			wantCode:    exitFailure,
			wantMessage: `handler "Refund" is not registered`,
		},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctxFile := pluginWriteFile(t, "context.json", pluginEditContext(t, b.contextJSON, tt.top, tt.input))
			args := append([]string{"plugin", "test", wasm, "--context", ctxFile}, tt.args...)

			code, out, errOut := pluginCLI(pluginCtx(t), args...)
			require.Equal(t, tt.wantCode, code, "stdout:\n%s\nstderr:\n%s", out, errOut)
			for _, w := range tt.wantStdout {
				require.Contains(t, out, w)
			}
			handler := "ValidateAmount"
			if h, ok := tt.top["handler"].(string); ok {
				handler = h
			}
			if len(tt.args) == 2 {
				handler = tt.args[1]
			}
			require.Contains(t, out, "handler:  "+handler+" (module contoso_check, ")
			if tt.wantCode == exitOK {
				require.Empty(t, errOut)
			} else {
				require.Contains(t, out, "result:   failed [handler_failed]: "+tt.wantMessage)
				// The message is shown once, on stdout; stderr says the
				// handler failed.
				require.Equal(t, "error: handler "+handler+" failed with handler_failed\n", errOut)
			}

			code, out, _ = pluginCLI(pluginCtx(t), append(args, "--json")...)
			require.Equal(t, tt.wantCode, code)
			r := pluginDecodeReport(t, out)
			require.Equal(t, tt.wantCode == exitOK, r.OK)
			require.Equal(t, handler, r.Handler)
			if tt.wantCode != exitOK {
				require.Equal(t, "handler_failed", r.Code)
				require.Contains(t, r.Message, tt.wantMessage)
			}
		})
	}
}

func TestPluginTestStamp(t *testing.T) {
	t.Parallel()
	b := stampPlugin(t)
	require.Regexp(t, `^built \S+stamp\.wasm \(\d+ bytes, sha256:[0-9a-f]{64}\)\n$`, b.buildOut)
	wasm := pluginWriteFile(t, "stamp.wasm", b.wasm)
	create := func(stage string) string {
		return pluginWriteFile(t, "context.json", []byte(`{"handler": "Stamp", "message": "Create", "table": "account",
			"stage": "`+stage+`", "config": "c1",
			"input": {"Target": {"name": "Contoso", "revenue": 1000000.10}}}`))
	}
	preOp := create("PreOperation")

	t.Run("TargetChanged", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := pluginCLI(pluginCtx(t), "plugin", "test", wasm, "--context", preOp)
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, "output:\n  Stamped = \"Contoso\"\n")
		require.Contains(t, out, "target (changed):\n"+
			"  checked = true (new)\n"+
			"  name = \"Contoso (checked)\" (was \"Contoso\")\n"+
			"  revenue = 1000000.10\n")
		require.Contains(t, out, "trace:\n  stamped Contoso with config \"c1\"\n")

		code, out, _ = pluginCLI(pluginCtx(t), "plugin", "test", wasm, "--context", preOp, "--json")
		require.Equal(t, exitOK, code)
		r := pluginDecodeReport(t, out)
		require.Equal(t, tables.Row{"name": "Contoso (checked)", "checked": true, "revenue": json.Number("1000000.10")}, r.Target,
			"the digits as written")
		require.Equal(t, map[string]any{"Stamped": "Contoso"}, r.Output)
	})
	t.Run("TargetReadOnlyAfterPreOperation", func(t *testing.T) {
		t.Parallel()
		code, out, _ := pluginCLI(pluginCtx(t), "plugin", "test", wasm, "--context", create("PostOperation"))
		require.Equal(t, exitFailure, code)
		require.Contains(t, out, "result:   failed [handler_failed]: set target/name: ")
		require.Contains(t, out, "the Target can change in PreValidation and PreOperation only")
		require.NotContains(t, out, "target (changed)")
	})
	t.Run("ExecuteNotAllowed", func(t *testing.T) {
		t.Parallel()
		code, out, errOut := pluginCLI(pluginCtx(t), "plugin", "test", wasm, "--context", preOp, "--handler", "Execute")
		require.Equal(t, exitFailure, code)
		require.Contains(t, out, "result:   failed [handler_failed]: execute Create: ")
		require.Contains(t, out, "NOT_ALLOWED")
		require.Equal(t, "error: handler Execute failed with handler_failed\n", errOut)
	})
	t.Run("Panic", func(t *testing.T) {
		t.Parallel()
		code, out, _ := pluginCLI(pluginCtx(t), "plugin", "test", wasm, "--context", preOp, "--handler", "Panic", "--json")
		require.Equal(t, exitFailure, code)
		r := pluginDecodeReport(t, out)
		require.Equal(t, "handler_failed", r.Code)
		require.True(t, strings.HasPrefix(r.Message, "panicked: stamp: no stamps left"), r.Message)
		require.Contains(t, r.Trace, "panic: stamp: no stamps left", "the whole trace")
	})
}

func TestPluginTestBadContext(t *testing.T) {
	t.Parallel()
	// The context is read before the module: these fail without one.
	wasm := filepath.Join(t.TempDir(), "missing.wasm")
	for _, tt := range []struct {
		name     string
		context  string
		args     []string
		wantCode int
		want     []string // in stderr
	}{
		{"Malformed", "{\n  \"handler\": \"ValidateAmount\",\n}\n", nil, exitFailure,
			[]string{"error [invalid_argument]: context ", "context.json: not valid JSON at line 3, column 1: invalid character '}'"}},
		{"Truncated", `{"handler": "ValidateAmount"`, nil, exitFailure, []string{"not valid JSON: it ends before the object does"}},
		{"NotAnObject", `[1, 2]`, nil, exitFailure, []string{"want a JSON object, got array"}},
		{"TrailingData", `{} {}`, nil, exitFailure, []string{"not valid JSON: data after the JSON value"}},
		{"UnknownKey", `{"handler": "ValidateAmount", "amount": 5}`, nil, exitFailure,
			[]string{`context.json: unknown key "amount"; the keys are handler, message, table, id, stage,`}},
		{"EveryProblem", `{"Stage": 1, "stage": 15, "mode": "later", "depth": 0, "id": "42", "operation_time": "today",
			"input": [], "pre_image": {"before": 3}}`, nil, exitFailure, []string{
			`unknown key "Stage"`,
			"\n  stage: want 10 (PreValidation), 20 (PreOperation), 30 (MainOperation) or 40 (PostOperation), got 15\n",
			`mode: want "sync" or "async", got "later"`,
			"depth: want a positive integer",
			`id: want a GUID like 0196d7c2-0000-7000-8000-000000000001, got "42"`,
			`operation_time: want an RFC 3339 time like 2026-03-14T15:09:26Z, got "today"`,
			"input: want an object, got an array",
			"pre_image/before: want an object of column values, got a number",
		}},
		{"TargetConflict", `{"handler": "H", "input": {"Target": {"a": 1}}, "target": {"a": 2}}`, nil, exitFailure,
			[]string{"target: differs from input.Target; give one of them"}},
		{"NoHandler", `{"message": "Create"}`, nil, exitUsage,
			[]string{`no handler to run: `, `has no "handler" key; add one, or pass --handler NAME`, "Try 'bizevents plugin test --help'."}},
		{"NoModule", `{"handler": "ValidateAmount"}`, nil, exitFailure, []string{"read the module: ", "missing.wasm"}},
		{"NoContextFlag", "", []string{"plugin", "test", wasm}, exitUsage, []string{"missing --context"}},
		{"NoFile", "", []string{"plugin", "test", "--context", "c.json"}, exitUsage, []string{"missing FILE.wasm"}},
		{"ContextFileMissing", "", []string{"plugin", "test", wasm, "--context", filepath.Join(t.TempDir(), "nope.json")}, exitFailure,
			[]string{"read the context: "}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if args == nil {
				args = []string{"plugin", "test", wasm, "--context", pluginWriteFile(t, "context.json", []byte(tt.context))}
			}
			code, out, errOut := pluginCLI(pluginCtx(t), args...)
			require.Equal(t, tt.wantCode, code, errOut)
			require.Empty(t, out)
			for _, w := range tt.want {
				require.Contains(t, errOut, w)
			}
		})
	}
}

func TestDecodePluginContext(t *testing.T) {
	t.Parallel()
	id := uuid.MustParse("0196d7c2-0000-7000-8000-00000000a001")
	user := uuid.MustParse("0196d7c2-0000-7000-8000-000000000001")
	corr := uuid.MustParse("0196d7c2-0000-7000-8000-0000000000c0")
	req := uuid.MustParse("0196d7c2-0000-7000-8000-0000000000e0")

	t.Run("Whole", func(t *testing.T) {
		t.Parallel()
		handler, ex, err := decodePluginContext("c.json", []byte(`{
			"handler": "Check", "message": "Update", "table": "account", "id": "`+id.String()+`",
			"stage": 20, "mode": "async", "depth": 2,
			"user_id": "`+user.String()+`", "initiating_user_id": null,
			"correlation_id": "`+corr.String()+`", "request_id": "`+req.String()+`",
			"operation_time": "2026-03-14T16:09:26.5+01:00",
			"step": "check", "config": "{\"limit\": 5}", "secure_config": "s",
			"input": {"Target": {"revenue": 12.50, "tags": ["a", 1], "owner": {"table": "systemuser", "id": "`+user.String()+`"}}, "Note": null},
			"target": {"revenue": 12.50, "tags": ["a", 1], "owner": {"table": "systemuser", "id": "`+user.String()+`"}},
			"output": {"id": "`+id.String()+`"},
			"shared": {"n": 3},
			"pre_image": {"before": {"revenue": 10}},
			"post_image": {}
		}`))
		require.NoError(t, err)
		require.Equal(t, "Check", handler)
		require.Equal(t, &pipeline.Execution{
			Message: pipeline.Update, Table: "account", ID: id, Stage: pipeline.PreOperation, Mode: pipeline.Async, Depth: 2,
			UserID: user, CorrelationID: corr, RequestID: req,
			OperationTime: time.Date(2026, 3, 14, 15, 9, 26, 5e8, time.UTC),
			Step:          "check", Config: `{"limit": 5}`, SecureConfig: "s",
			InputParameters: map[string]any{
				"Target": tables.Row{
					"revenue": json.Number("12.50"), "tags": []any{"a", json.Number("1")},
					"owner": map[string]any{"table": "systemuser", "id": user.String()},
				},
				"Note": nil,
			},
			OutputParameters: map[string]any{"id": id.String()},
			SharedVariables:  map[string]any{"n": json.Number("3")},
			PreImages:        map[string]tables.Row{"before": {"revenue": json.Number("10")}},
			PostImages:       map[string]tables.Row{},
		}, ex)
	})
	t.Run("Defaults", func(t *testing.T) {
		t.Parallel()
		before := time.Now().UTC()
		handler, ex, err := decodePluginContext("c.json", []byte(`{}`))
		require.NoError(t, err)
		require.Empty(t, handler)
		require.Equal(t, pipeline.PreValidation, ex.Stage)
		require.Equal(t, pipeline.Sync, ex.Mode)
		require.Equal(t, 1, ex.Depth)
		require.WithinDuration(t, before, ex.OperationTime, time.Minute)
		require.Equal(t, uuid.Nil, ex.ID)
		require.NotNil(t, ex.InputParameters)
		require.NotNil(t, ex.OutputParameters)
		require.NotNil(t, ex.SharedVariables)
		require.Nil(t, ex.Target())
	})
	for _, tt := range []struct {
		name, doc string
		want      any // the Target
	}{
		{"TargetKeyOnly", `{"message": "Create", "target": {"name": "x"}}`, tables.Row{"name": "x"}},
		{"ReferenceOfDelete", `{"message": "Delete", "input": {"Target": {"table": "account", "id": "` + id.String() + `"}}}`,
			tables.Reference{Table: "account", ID: id}},
		{"RowOfUpdate", `{"message": "Update", "input": {"Target": {"table": "account", "id": "` + id.String() + `"}}}`,
			tables.Row{"table": "account", "id": id.String()}},
		{"StageByName", `{"stage": "postoperation", "input": {"Target": {"a": true}}}`, tables.Row{"a": true}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, ex, err := decodePluginContext("c.json", []byte(tt.doc))
			require.NoError(t, err)
			require.Equal(t, tt.want, ex.InputParameters["Target"])
		})
	}
}

func TestPluginNew(t *testing.T) {
	t.Parallel()
	ctx := pluginCtx(t)
	for _, name := range []string{"Contoso", "1st", "contoso-check", "_x", "contoso check", "ä"} {
		t.Run("BadName_"+name, func(t *testing.T) {
			t.Parallel()
			code, out, errOut := pluginCLI(ctx, "plugin", "new", name, "--dir", filepath.Join(t.TempDir(), "p"))
			require.Equal(t, exitUsage, code)
			require.Empty(t, out)
			require.Contains(t, errOut, fmt.Sprintf("error [invalid_argument]: plugin name %q: a name is lower case letters, digits and underscores, starting with a letter", name))
			require.Contains(t, errOut, "Try 'bizevents plugin new --help'.")
		})
	}
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"NoName", []string{"plugin", "new"}, "missing NAME"},
		{"TwoNames", []string{"plugin", "new", "a", "b"}, "one NAME expected, got 2 arguments"},
		{"BadModule", []string{"plugin", "new", "a", "--module", "example.com/a b", "--dir", filepath.Join(t.TempDir(), "a")}, `--module "example.com/a b" is not a Go module path`},
		{"BadSDK", []string{"plugin", "new", "a", "--sdk", t.TempDir(), "--dir", filepath.Join(t.TempDir(), "a")}, "no go.mod of module github.com/bizevents/bizevents there"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := pluginCLI(ctx, tt.args...)
			require.Equal(t, exitUsage, code)
			require.Contains(t, errOut, tt.want)
		})
	}
	t.Run("NonEmptyDir", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644))
		code, out, errOut := pluginCLI(ctx, "plugin", "new", "contoso_check", "--dir", dir)
		require.Equal(t, exitUsage, code)
		require.Empty(t, out)
		require.Contains(t, errOut, dir+" exists and is not empty: choose another --dir, or remove it")
		b, err := os.ReadFile(filepath.Join(dir, "main.go"))
		require.NoError(t, err)
		require.Equal(t, "package main\n", string(b), "left alone")
	})
	t.Run("DirIsAFile", func(t *testing.T) {
		t.Parallel()
		file := pluginWriteFile(t, "f", nil)
		code, _, errOut := pluginCLI(ctx, "plugin", "new", "contoso_check", "--dir", file)
		require.Equal(t, exitUsage, code)
		require.Contains(t, errOut, "exists and is not a folder")
	})
	t.Run("EmptyDirAndOptions", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		root := pluginRepoRoot(t)
		code, out, errOut := pluginCLI(ctx, "plugin", "new", "fabrikam_audit", "--dir", dir, "--module", "git.fabrikam.com/plugins/audit", "--sdk", root)
		require.Equal(t, exitOK, code, errOut)
		require.Contains(t, out, "created plugin fabrikam_audit in "+dir+" (module git.fabrikam.com/plugins/audit):\n")
		require.Contains(t, out, "go.mod uses the SDK in "+root+"\n")
		require.Contains(t, out, "bizevents plugin build "+dir+" -o "+filepath.Join(dir, "fabrikam_audit.wasm")+"\n",
			"the folder's name is not the plugin's")
		gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		require.NoError(t, err)
		require.True(t, strings.HasPrefix(string(gomod), "module git.fabrikam.com/plugins/audit\n\ngo "), string(gomod))
		require.Contains(t, string(gomod), "replace github.com/bizevents/bizevents => "+root+"\n")
		main, err := os.ReadFile(filepath.Join(dir, "main.go"))
		require.NoError(t, err)
		require.Contains(t, string(main), "// Command fabrikam_audit is a bizevents plugin")
		require.Contains(t, string(main), `sdk.Register("ValidateAmount", validateAmount)`)
		readme, err := os.ReadFile(filepath.Join(dir, "README.md"))
		require.NoError(t, err)
		require.Contains(t, string(readme), "handler: fabrikam_audit/ValidateAmount")
		// The sample context is one the command reads.
		ctxJSON, err := os.ReadFile(filepath.Join(dir, "context.json"))
		require.NoError(t, err)
		handler, ex, err := decodePluginContext("context.json", ctxJSON)
		require.NoError(t, err)
		require.Equal(t, "ValidateAmount", handler)
		require.Equal(t, json.Number("12.50"), ex.InputParameters["Amount"])
	})
	t.Run("SDKNotFound", func(t *testing.T) {
		t.Parallel()
		dir := filepath.Join(t.TempDir(), "p")
		away := t.TempDir()
		var out, errOut bytes.Buffer
		require.NoError(t, runPluginNew(ctx, pluginNewOptions{Name: "contoso_check", Dir: dir, SearchFrom: away}, &out, &errOut))
		gomod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		require.NoError(t, err)
		require.Equal(t, "module example.com/contoso_check\n\ngo 1.26\n\nrequire github.com/bizevents/bizevents v0.0.0-00010101000000-000000000000\n", string(gomod))
		require.Contains(t, errOut.String(), "note: found no bizevents source folder above "+away)
		require.Contains(t, errOut.String(), "\n  replace github.com/bizevents/bizevents => /path/to/bizevents\n")
		require.Contains(t, errOut.String(), "--sdk /path/to/bizevents")
		require.NotContains(t, out.String(), "go.mod uses the SDK")
	})
}

func TestPluginBuild(t *testing.T) {
	t.Parallel()
	ctx := pluginCtx(t)
	// project writes a module with a main.go into a new folder.
	project := func(t *testing.T, main string) string {
		dir := filepath.Join(t.TempDir(), "proj")
		require.NoError(t, os.Mkdir(dir, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/proj\n\ngo 1.26\n"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(main), 0o644))
		return dir
	}

	t.Run("DoesNotCompile", func(t *testing.T) {
		t.Parallel()
		dir := project(t, "package main\n\nfunc main() { undefinedThing() }\n")
		code, out, errOut := pluginCLI(ctx, "plugin", "build", dir)
		require.Equal(t, exitFailure, code)
		require.Empty(t, out)
		require.Contains(t, errOut, "undefined: undefinedThing", "go's own error")
		require.Contains(t, errOut, "error: go build in "+dir+" failed (exit status 1): its output is above\n")
		_, err := os.Stat(filepath.Join(dir, "proj.wasm"))
		require.ErrorIs(t, err, os.ErrNotExist)
	})
	t.Run("NotAPlugin", func(t *testing.T) {
		t.Parallel()
		dir := project(t, "package main\n\nfunc main() {}\n")
		out := filepath.Join(t.TempDir(), "bare.wasm")
		code, stdout, errOut := pluginCLI(ctx, "plugin", "build", dir, "-o", out)
		require.Equal(t, exitFailure, code, errOut)
		require.Empty(t, stdout)
		require.Contains(t, errOut, "the host refuses "+out+":\n  - it is not a bizevents plugin: it exports no bizevents_abi_v1 marker")
		require.Contains(t, errOut, "\n  - it exports no bizevents_handle function\n")
		require.Contains(t, errOut, "error: "+out+" is not a plugin module for ABI v1\n")
	})
	for _, tt := range []struct {
		name string
		args []string
		want string
	}{
		{"NoSuchDir", []string{"plugin", "build", filepath.Join(t.TempDir(), "nope")}, "is not a folder: give the folder of the plugin's main package"},
		{"TwoDirs", []string{"plugin", "build", "a", "b"}, "one DIR expected, got 2 arguments"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, _, errOut := pluginCLI(ctx, tt.args...)
			require.Equal(t, exitUsage, code)
			require.Contains(t, errOut, tt.want)
			require.Contains(t, errOut, "Try 'bizevents plugin build --help'.")
		})
	}
}

func TestPluginHelp(t *testing.T) {
	t.Parallel()
	ctx := pluginCtx(t)
	code, out, _ := pluginCLI(ctx, "help", "plugin")
	require.Equal(t, exitOK, code)
	for _, sub := range []string{"new", "build", "test"} {
		require.Regexp(t, `\n  `+sub+`\s+\S`, out)
	}
	code, out, _ = pluginCLI(ctx, "plugin", "test", "--help")
	require.Equal(t, exitOK, code)
	require.Contains(t, out, "Usage: bizevents plugin test FILE.wasm [flags]")
	require.Contains(t, out, "NOT_ALLOWED")
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if !strings.HasPrefix(sc.Text(), "    \t") { // flag descriptions
			require.LessOrEqual(t, len(sc.Text()), 82, sc.Text())
		}
	}
}
