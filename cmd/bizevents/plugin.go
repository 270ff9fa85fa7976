package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"go/version"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/plugins"
	"github.com/bizevents/bizevents/sdk/go/abi"
)

func pluginCommand() *command {
	return &command{
		name:    "plugin",
		summary: "scaffold, build and try WebAssembly plugins",
		help: "A plugin is a WebAssembly module, written with the Go SDK (package sdk in\n" +
			"sdk/go), whose handlers run as steps in a sandbox. 'plugin new' writes a\n" +
			"project, 'plugin build' compiles it for wasip1 and checks it against the host's\n" +
			"ABI, 'plugin test' runs a handler on an execution context from a JSON file.",
		subs: []*command{pluginNewCommand(), pluginBuildCommand(), pluginTestCommand()},
	}
}

// bizeventsModulePath is the module path of this repository, which holds
// the Go SDK a plugin imports.
const bizeventsModulePath = "github.com/bizevents/bizevents"

// pluginNameRE is what a plugin's name must look like: a logical name, as
// the solution's plugins: entry requires.
var pluginNameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ---- plugin new

// pluginNewOptions are the options of `bizevents plugin new`.
type pluginNewOptions struct {
	// Name is the plugin's name, a logical name.
	Name string
	// Dir is where the project is written; default ./Name. It must not
	// exist or be empty.
	Dir string
	// Module is the project's module path; default example.com/Name.
	Module string
	// SDK is the root of the bizevents module source that go.mod's replace
	// points at; empty: found by walking up from SearchFrom.
	SDK string
	// SearchFrom is where the search for the bizevents source starts;
	// empty: the working directory.
	SearchFrom string
}

func pluginNewCommand() *command {
	return &command{
		name:    "new",
		args:    "NAME",
		summary: "write a new plugin project: go.mod, main.go with one handler, a sample context",
		help: "NAME is the plugin's logical name (lower case letters, digits and underscores,\n" +
			"starting with a letter); steps name its handlers NAME/<handler>. Until the\n" +
			"bizevents module is published, go.mod replaces it with a source folder: --sdk,\n" +
			"or the bizevents checkout that holds the working directory.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o pluginNewOptions
			fs.StringVar(&o.Dir, "dir", "", "`folder` to write the project in, new or empty (default ./NAME)")
			fs.StringVar(&o.Module, "module", "", "the project's Go module `path` (default example.com/NAME)")
			fs.StringVar(&o.SDK, "sdk", "", "`folder` of the bizevents module source for go.mod's replace (default: found above the working directory)")
			return func(ctx context.Context, args []string) error {
				switch len(args) {
				case 0:
					return usagef("missing NAME, e.g. contoso_validation")
				case 1:
				default:
					return usagef("one NAME expected, got %d arguments", len(args))
				}
				o.Name = args[0]
				return runPluginNew(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// pluginFile is one file of a new project.
type pluginFile struct {
	name string
	tmpl *template.Template
}

// runPluginNew writes a plugin project and lists its files on stdout.
func runPluginNew(ctx context.Context, o pluginNewOptions, stdout, stderr io.Writer) error {
	if !pluginNameRE.MatchString(o.Name) {
		return usagef("plugin name %q: a name is lower case letters, digits and underscores, starting with a letter (e.g. contoso_validation)", o.Name)
	}
	if o.Dir == "" {
		o.Dir = o.Name
	}
	if o.Module == "" {
		o.Module = "example.com/" + o.Name
	}
	if strings.ContainsFunc(o.Module, func(r rune) bool { return r <= ' ' || r == '"' || r == '`' || r == '\\' }) ||
		strings.HasPrefix(o.Module, "/") || strings.HasSuffix(o.Module, "/") {
		return usagef("--module %q is not a Go module path like example.com/%s", o.Module, o.Name)
	}
	switch st, err := os.Stat(o.Dir); {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("plugin new: %w", err)
	case !st.IsDir():
		return usagef("%s exists and is not a folder: choose another --dir", o.Dir)
	default:
		entries, err := os.ReadDir(o.Dir)
		if err != nil {
			return fmt.Errorf("plugin new: %w", err)
		}
		if len(entries) > 0 {
			return usagef("%s exists and is not empty: choose another --dir, or remove it", o.Dir)
		}
	}

	data := pluginTemplateData{Name: o.Name, Module: o.Module, GoVersion: pluginGoVersion, SDKVersion: pluginSDKVersion()}
	if o.SDK != "" {
		root, goVersion, ok := bizeventsRootAt(o.SDK)
		if !ok {
			return usagef("--sdk %s: no go.mod of module %s there; give the folder of a bizevents checkout", o.SDK, bizeventsModulePath)
		}
		data.Replace, data.GoVersion = root, pluginLaterGo(data.GoVersion, goVersion)
	} else {
		if o.SearchFrom == "" {
			wd, err := os.Getwd()
			if err != nil {
				return fmt.Errorf("plugin new: %w", err)
			}
			o.SearchFrom = wd
		}
		if root, goVersion, ok := findBizeventsRoot(o.SearchFrom); ok {
			data.Replace, data.GoVersion = root, pluginLaterGo(data.GoVersion, goVersion)
		} else if root, goVersion, ok := bizeventsRootAt(sourceDir); sourceDir != "" && ok {
			data.Replace, data.GoVersion = root, pluginLaterGo(data.GoVersion, goVersion)
		}
	}
	if err := ctx.Err(); err != nil {
		return err
	}

	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return fmt.Errorf("plugin new: %w", err)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "created plugin %s in %s (module %s):\n", o.Name, o.Dir, o.Module)
	for _, f := range pluginFiles {
		var content bytes.Buffer
		if err := f.tmpl.Execute(&content, data); err != nil {
			return fmt.Errorf("plugin new: %s: %w", f.name, err)
		}
		path := filepath.Join(o.Dir, f.name)
		if err := os.WriteFile(path, content.Bytes(), 0o644); err != nil {
			return fmt.Errorf("plugin new: %w", err)
		}
		fmt.Fprintf(&buf, "  %s\n", path)
	}
	if data.Replace != "" {
		fmt.Fprintf(&buf, "go.mod uses the SDK in %s\n", data.Replace)
	}
	build := "bizevents plugin build " + o.Dir
	if filepath.Base(pluginAbsPath(o.Dir)) != o.Name {
		build += " -o " + filepath.Join(o.Dir, o.Name+".wasm")
	}
	fmt.Fprintf(&buf, "next:\n  %s\n  bizevents plugin test %s --context %s\n",
		build, filepath.Join(o.Dir, o.Name+".wasm"), filepath.Join(o.Dir, "context.json"))
	if _, err := stdout.Write(buf.Bytes()); err != nil {
		return err
	}
	if data.Replace == "" {
		fmt.Fprintf(stderr, "note: found no bizevents source folder above %s, so go.mod requires %s %s\n"+
			"without a replace, and go cannot download it (it is not published). Add this line to %s:\n"+
			"  replace %s => /path/to/bizevents\n"+
			"or run plugin new again with --sdk /path/to/bizevents.\n",
			o.SearchFrom, bizeventsModulePath, data.SDKVersion, filepath.Join(o.Dir, "go.mod"), bizeventsModulePath)
	}
	return nil
}

// pluginGoVersion is the go line of a new project's go.mod, raised to the
// SDK module's own when that is later (a module cannot require one newer
// than itself).
const pluginGoVersion = "1.26"

// pluginSDKPlaceholder is the version go.mod requires the bizevents module
// at when this binary knows no release of it: the zero pseudo-version,
// which only a replace resolves.
const pluginSDKPlaceholder = "v0.0.0-00010101000000-000000000000"

// pluginSDKVersion returns the version of the bizevents module this
// binary was built from when it is a clean release or pseudo-version, else
// [pluginSDKPlaceholder].
// sourceDir is the bizevents checkout the binary was built from, set by
// make build (-ldflags -X main.sourceDir=...), so that plugin new run
// outside the checkout still points go.mod at the SDK's source.
var sourceDir string

func pluginSDKVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Path == bizeventsModulePath {
		if v := info.Main.Version; strings.HasPrefix(v, "v") && !strings.Contains(v, "+") {
			return v
		}
	}
	return pluginSDKPlaceholder
}

func pluginLaterGo(a, b string) string {
	if b != "" && version.Compare("go"+b, "go"+a) > 0 {
		return b
	}
	return a
}

// findBizeventsRoot walks up from dir to the folder whose go.mod declares
// the bizevents module, and returns it, absolute, with its go version.
func findBizeventsRoot(dir string) (root, goVersion string, ok bool) {
	dir = pluginAbsPath(dir)
	for {
		if root, goVersion, ok := bizeventsRootAt(dir); ok {
			return root, goVersion, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", "", false
		}
		dir = parent
	}
}

// bizeventsRootAt reports whether dir holds the go.mod of the bizevents
// module, and returns dir, absolute, with the module's go version.
func bizeventsRootAt(dir string) (root, goVersion string, ok bool) {
	f, err := os.Open(filepath.Join(dir, "go.mod"))
	if err != nil {
		return "", "", false
	}
	defer f.Close()
	var module string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line, _, _ := strings.Cut(sc.Text(), "//")
		fields := strings.Fields(line)
		if len(fields) != 2 {
			continue
		}
		switch fields[0] {
		case "module":
			module = fields[1]
			if s, err := strconv.Unquote(module); err == nil {
				module = s
			}
		case "go":
			goVersion = fields[1]
		}
	}
	if module != bizeventsModulePath {
		return "", "", false
	}
	return pluginAbsPath(dir), goVersion, true
}

// pluginAbsPath returns path made absolute, or path when that fails.
func pluginAbsPath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		return abs
	}
	return path
}

// pluginTemplateData fills the templates of a new project.
type pluginTemplateData struct {
	Name, Module, GoVersion, SDKVersion string
	// Replace is the bizevents source folder go.mod replaces the module
	// with; empty for none.
	Replace string
}

// QuotedReplace is Replace as go.mod writes a path: quoted when it holds
// spaces or quotes.
func (d pluginTemplateData) QuotedReplace() string {
	if strings.ContainsAny(d.Replace, " \t\"'`") {
		return strconv.Quote(d.Replace)
	}
	return d.Replace
}

// The sample handler's name, in main.go, context.json and README.md.
const pluginSampleHandler = "ValidateAmount"

var pluginFiles = []pluginFile{
	{"go.mod", template.Must(template.New("go.mod").Parse(`module {{.Module}}

go {{.GoVersion}}

require ` + bizeventsModulePath + ` {{.SDKVersion}}
{{- if .Replace}}

replace ` + bizeventsModulePath + ` => {{.QuotedReplace}}
{{- end}}
`))},
	{"main.go", template.Must(template.New("main.go").Parse(`// Command {{.Name}} is a bizevents plugin: a WebAssembly module whose
// handlers run as steps of the engine's pipeline, in a sandbox.
//
// Build it with "bizevents plugin build", try it with
// "bizevents plugin test {{.Name}}.wasm --context context.json", and
// register a step with handler "{{.Name}}/` + pluginSampleHandler + `".
package main

import sdk "github.com/bizevents/bizevents/sdk/go"

// Handlers are registered in init: a plugin is a reactor module, whose
// main function never runs.
func init() { sdk.Register("` + pluginSampleHandler + `", validateAmount) }

// validateAmount refuses a message whose Amount parameter is negative,
// and passes the amount on to the next steps as a shared variable.
func validateAmount(ctx *sdk.Context) error {
	amount, err := ctx.InputDecimal("Amount")
	if sdk.IsNotFound(err) {
		return sdk.Fail("%s has no Amount parameter", ctx.Message())
	}
	if err != nil {
		return err
	}
	if amount.Sign() < 0 {
		return sdk.Fail("the amount %s is negative: record a refund instead", amount)
	}
	ctx.Trace("amount %s is valid", amount)
	return ctx.SetShared("validated_amount", amount)
}

func main() {}
`))},
	{"context.json", template.Must(template.New("context.json").Parse(`{
  "handler": "` + pluginSampleHandler + `",
  "message": "contoso_CustomerPurchase",
  "stage": 10,
  "mode": "sync",
  "depth": 1,
  "user_id": "0196d7c2-0000-7000-8000-000000000001",
  "initiating_user_id": "0196d7c2-0000-7000-8000-000000000001",
  "correlation_id": "0196d7c2-0000-7000-8000-0000000000c0",
  "request_id": "0196d7c2-0000-7000-8000-0000000000e0",
  "operation_time": "2026-03-14T15:09:26Z",
  "step": "validate amount",
  "config": "",
  "input": {
    "Amount": 12.50,
    "CustomerId": "0196d7c2-0000-7000-8000-00000000a001"
  },
  "output": {},
  "shared": {}
}
`))},
	{"README.md", template.Must(template.New("README.md").Parse(`# {{.Name}}

A bizevents plugin. Its handler ` + pluginSampleHandler + ` (main.go) refuses a message whose
Amount parameter is negative.

    bizevents plugin build -o {{.Name}}.wasm      # compiles for wasip1, checks the module
    bizevents plugin test {{.Name}}.wasm --context context.json

Edit context.json to try other inputs: a negative Amount fails. To run the plugin in
the engine, ship {{.Name}}.wasm in a solution (` + "`plugins: [{name: {{.Name}}, file: {{.Name}}.wasm}]`" + `)
and register a step with ` + "`handler: {{.Name}}/" + pluginSampleHandler + "`" + `.
`))},
	{".gitignore", template.Must(template.New(".gitignore").Parse("*.wasm\n"))},
}

// ---- plugin build

// pluginBuildOptions are the options of `bizevents plugin build`.
type pluginBuildOptions struct {
	// Dir is the package to build; default ".".
	Dir string
	// Output is the module file; default Dir/<base name of Dir>.wasm.
	Output string
}

func pluginBuildCommand() *command {
	return &command{
		name:    "build",
		args:    "[DIR]",
		summary: "compile a Go plugin for wasip1 and check it against the host's ABI",
		help: "Runs 'go build -buildmode=c-shared -trimpath' in DIR (default .) with GOOS=wasip1,\n" +
			"GOARCH=wasm and CGO_ENABLED=0, then loads the module as the engine would and\n" +
			"prints its size and content hash, the hash a solution records.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o pluginBuildOptions
			fs.StringVar(&o.Output, "o", "", "module `file` to write (default DIR/<name of DIR>.wasm)")
			return func(ctx context.Context, args []string) error {
				switch len(args) {
				case 0:
					o.Dir = "."
				case 1:
					o.Dir = args[0]
				default:
					return usagef("one DIR expected, got %d arguments", len(args))
				}
				return runPluginBuild(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// runPluginBuild builds and checks a plugin module. go's output goes to
// stderr; a failed build or a module the host refuses is a *failure.
func runPluginBuild(ctx context.Context, o pluginBuildOptions, stdout, stderr io.Writer) error {
	if o.Dir == "" {
		o.Dir = "."
	}
	if st, err := os.Stat(o.Dir); err != nil || !st.IsDir() {
		return usagef("%s is not a folder: give the folder of the plugin's main package", o.Dir)
	}
	dir := pluginAbsPath(o.Dir)
	if o.Output == "" {
		o.Output = filepath.Join(o.Dir, filepath.Base(dir)+".wasm")
	}
	out := pluginAbsPath(o.Output)
	goTool, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("plugin build needs the go command, and there is none on PATH: install Go %s or later (https://go.dev/dl)", pluginGoVersion)
	}
	cmd := exec.CommandContext(ctx, goTool, "build", "-buildmode=c-shared", "-trimpath", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	output, err := cmd.CombinedOutput()
	if _, werr := stderr.Write(output); werr != nil {
		return werr
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &failure{msg: fmt.Sprintf("go build in %s failed (%v): its output is above", o.Dir, err)}
	}
	wasm, err := os.ReadFile(out)
	if err != nil {
		return fmt.Errorf("plugin build: %w", err)
	}
	rt, err := plugins.New(ctx, plugins.Config{CacheDir: plugins.DefaultCacheDir()})
	if err != nil {
		return err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	m, err := rt.Load(ctx, pluginModuleName(out), wasm)
	if err != nil {
		var le *plugins.LoadError
		if !errors.As(err, &le) {
			return err
		}
		var buf bytes.Buffer
		fmt.Fprintf(&buf, "the host refuses %s:\n", o.Output)
		for _, p := range le.Problems {
			fmt.Fprintf(&buf, "  - %s\n", p)
		}
		if _, err := stderr.Write(buf.Bytes()); err != nil {
			return err
		}
		return &failure{msg: fmt.Sprintf("%s is not a plugin module for ABI v%d", o.Output, abi.Version)}
	}
	_ = m.Close(ctx)
	_, err = fmt.Fprintf(stdout, "built %s (%d bytes, sha256:%s)\n", o.Output, len(wasm), plugins.Hash(wasm))
	return err
}

// pluginModuleName is the module name a file is loaded as: its base name
// without .wasm.
func pluginModuleName(file string) string {
	return strings.TrimSuffix(filepath.Base(file), ".wasm")
}

// ---- plugin test

// pluginTestOptions are the options of `bizevents plugin test`.
type pluginTestOptions struct {
	// File is the module to run.
	File string
	// Context is the JSON file of the execution context.
	Context string
	// Handler, when set, is the handler to run instead of the context's.
	Handler string
	// Timeout, when positive, is the call's deadline instead of the host's
	// default for the context's mode.
	Timeout time.Duration
	JSON    bool
}

func pluginTestCommand() *command {
	return &command{
		name:    "test",
		args:    "FILE.wasm",
		summary: "run a plugin's handler on an execution context from a JSON file",
		help: pluginWrap("The context file is the document a plugin reads with get(\"context\"), "+
			"an object with the keys "+strings.Join(pluginContextKeys, ", ")+".", 80) + "\n" +
			"Numbers keep their digits; input.Target (or target) is the Target row. Missing\n" +
			"keys default to stage 10 (PreValidation), mode sync, depth 1, operation_time now.\n" +
			"No engine runs: an execute from the plugin fails with NOT_ALLOWED (code\n" +
			"forbidden in the SDK). Prints the result, the output parameters, the shared\n" +
			"variables, the Target when the handler changed it, and the trace; exits with\n" +
			"status 1 when the handler failed.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o pluginTestOptions
			fs.StringVar(&o.Context, "context", "", "execution context, a JSON `file` (required)")
			fs.StringVar(&o.Handler, "handler", "", "`name` of the handler to run (default: the context's handler)")
			fs.DurationVar(&o.Timeout, "timeout", 0, fmt.Sprintf("deadline of the call (default %s for mode sync, %s for async)", plugins.DefaultSyncTimeout, plugins.DefaultAsyncTimeout))
			fs.BoolVar(&o.JSON, "json", false, "print the result as one JSON object")
			return func(ctx context.Context, args []string) error {
				switch len(args) {
				case 0:
					return usagef("missing FILE.wasm")
				case 1:
				default:
					return usagef("one FILE.wasm expected, got %d arguments", len(args))
				}
				o.File = args[0]
				return runPluginTest(ctx, o, env.stdout)
			}
		},
	}
}

// pluginTestJSON is the JSON shape of a handler's run.
type pluginTestJSON struct {
	OK      bool   `json:"ok"`
	Handler string `json:"handler"`
	// Code and Message say how the handler failed; empty when it
	// succeeded.
	Code    string `json:"code"`
	Message string `json:"message"`
	// Output and Shared are the output parameters and shared variables
	// after the call.
	Output map[string]any `json:"output"`
	Shared map[string]any `json:"shared"`
	// Target is the Target row after the call when the handler changed
	// it, else null.
	Target     tables.Row `json:"target"`
	Trace      []string   `json:"trace"`
	DurationUS int64      `json:"duration_us"`
}

// runPluginTest runs one handler and prints what it did; a failed handler
// is a *failure.
func runPluginTest(ctx context.Context, o pluginTestOptions, stdout io.Writer) error {
	if o.Context == "" {
		return usagef("missing --context: the execution context's JSON file (plugin new writes a sample, context.json)")
	}
	if o.Timeout < 0 {
		return usagef("--timeout %s must not be negative", o.Timeout)
	}
	raw, err := os.ReadFile(o.Context)
	if err != nil {
		return fmt.Errorf("read the context: %w", err)
	}
	handler, ex, err := decodePluginContext(o.Context, raw)
	if err != nil {
		return err
	}
	if o.Handler != "" {
		handler = o.Handler
	}
	if handler == "" {
		return usagef("no handler to run: %s has no \"handler\" key; add one, or pass --handler NAME", o.Context)
	}
	wasm, err := os.ReadFile(o.File)
	if err != nil {
		return fmt.Errorf("read the module: %w", err)
	}

	rt, err := plugins.New(ctx, plugins.Config{CacheDir: plugins.DefaultCacheDir(), SyncTimeout: o.Timeout, AsyncTimeout: o.Timeout})
	if err != nil {
		return err
	}
	defer rt.Close(context.WithoutCancel(ctx))
	m, err := rt.Load(ctx, pluginModuleName(o.File), wasm)
	if err != nil {
		return err
	}
	defer m.Close(context.WithoutCancel(ctx))

	before, _ := json.Marshal(ex.InputParameters["Target"])
	res, callErr := m.Call(ctx, handler, ex)

	rep := pluginTestJSON{
		OK: callErr == nil, Handler: handler,
		Output: pluginNonNil(ex.OutputParameters), Shared: pluginNonNil(ex.SharedVariables),
		Trace: res.Trace, DurationUS: res.Duration.Microseconds(),
	}
	if rep.Trace == nil {
		rep.Trace = []string{}
	}
	if callErr != nil {
		rep.Code, rep.Message = string(errcode.Of(callErr)), callErr.Error()
		var pe *plugins.PluginError
		if errors.As(callErr, &pe) {
			rep.Message = pe.Message // without the module, and the trace is shown whole
		}
	}
	var beforeRow tables.Row
	if row := ex.Target(); row != nil {
		if after, _ := json.Marshal(row); !bytes.Equal(before, after) {
			rep.Target = row
			_ = pluginDecode(before, &beforeRow)
		}
	}

	if o.JSON {
		if err := newJSONEncoder(stdout).Encode(rep); err != nil {
			return err
		}
	} else if err := printPluginTest(stdout, rep, m, beforeRow, res.Duration); err != nil {
		return err
	}
	if callErr != nil {
		return &failure{msg: fmt.Sprintf("handler %s failed with %s", handler, rep.Code)}
	}
	return nil
}

func printPluginTest(w io.Writer, rep pluginTestJSON, m *plugins.Module, before tables.Row, d time.Duration) error {
	var b bytes.Buffer
	if rep.OK {
		b.WriteString("result:   ok\n")
	} else {
		fmt.Fprintf(&b, "result:   failed [%s]: %s\n", rep.Code, rep.Message)
	}
	fmt.Fprintf(&b, "handler:  %s (module %s, sha256:%s)\n", rep.Handler, m.Name(), m.Hash()[:12])
	fmt.Fprintf(&b, "duration: %s\n", d.Round(time.Microsecond))
	printPluginValues(&b, "output:", rep.Output)
	printPluginValues(&b, "shared:", rep.Shared)
	if rep.Target != nil {
		b.WriteString("target (changed):\n")
		for _, k := range pluginSortedKeys(rep.Target) {
			now := pluginValueJSON(rep.Target[k])
			old, had := before[k]
			switch {
			case !had:
				fmt.Fprintf(&b, "  %s = %s (new)\n", k, now)
			case pluginValueJSON(old) != now:
				fmt.Fprintf(&b, "  %s = %s (was %s)\n", k, now, pluginValueJSON(old))
			default:
				fmt.Fprintf(&b, "  %s = %s\n", k, now)
			}
		}
		for _, k := range pluginSortedKeys(before) {
			if _, ok := rep.Target[k]; !ok {
				fmt.Fprintf(&b, "  %s removed (was %s)\n", k, pluginValueJSON(before[k]))
			}
		}
	}
	if len(rep.Trace) == 0 {
		b.WriteString("trace:    (none)\n")
	} else {
		b.WriteString("trace:\n")
		for _, l := range rep.Trace {
			fmt.Fprintf(&b, "  %s\n", l)
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// pluginWrap breaks s into lines of at most width characters, between
// words.
func pluginWrap(s string, width int) string {
	var b strings.Builder
	n := 0
	for i, w := range strings.Fields(s) {
		switch {
		case i == 0:
		case n+1+len(w) > width:
			b.WriteByte('\n')
			n = 0
		default:
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

func printPluginValues(b *bytes.Buffer, title string, m map[string]any) {
	if len(m) == 0 {
		fmt.Fprintf(b, "%-9s (none)\n", title)
		return
	}
	b.WriteString(title + "\n")
	for _, k := range pluginSortedKeys(m) {
		fmt.Fprintf(b, "  %s = %s\n", k, pluginValueJSON(m[k]))
	}
}

func pluginSortedKeys[M ~map[string]any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// pluginValueJSON renders a context value as one line of JSON.
func pluginValueJSON(v any) string {
	var buf bytes.Buffer
	if err := newJSONEncoder(&buf).Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(buf.String(), "\n")
}

func pluginNonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

// ---- the context file

// pluginContextKeys are the keys of a context file: those of the host's
// context document (sdk/ABI.md, get("context")).
var pluginContextKeys = []string{
	abi.KeyHandler, abi.KeyMessage, abi.KeyTable, abi.KeyID, abi.KeyStage, abi.KeyMode, abi.KeyDepth,
	abi.KeyUserID, abi.KeyInitiatingUserID, abi.KeyCorrelationID, abi.KeyRequestID, abi.KeyOperationTime,
	abi.KeyStep, abi.KeyConfig, abi.KeySecureConfig, abi.KeyInput, abi.KeyTarget, abi.KeyOutput, abi.KeyShared,
	abi.KeyPreImage, abi.KeyPostImage,
}

// pluginContextError is a context file that cannot be used: code
// invalid_argument.
type pluginContextError struct {
	file     string
	problems []string
}

func (e *pluginContextError) Error() string {
	if len(e.problems) == 1 {
		return "context " + e.file + ": " + e.problems[0]
	}
	return "context " + e.file + ":\n  " + strings.Join(e.problems, "\n  ")
}

// ErrorCode returns [errcode.InvalidArgument].
func (e *pluginContextError) ErrorCode() errcode.Code { return errcode.InvalidArgument }

// decodePluginContext reads a context file into the handler it names and
// an Execution, reporting every problem at once. Numbers are json.Number,
// keeping their digits; objects are map[string]any, the Target and images
// tables.Row.
func decodePluginContext(file string, data []byte) (string, *pipeline.Execution, error) {
	var doc map[string]json.RawMessage
	if err := pluginDecode(data, &doc); err != nil {
		return "", nil, &pluginContextError{file: file, problems: []string{pluginJSONProblem(data, err)}}
	}
	if doc == nil {
		return "", nil, &pluginContextError{file: file, problems: []string{"want a JSON object, got null"}}
	}
	var problems []string
	bad := func(key, format string, args ...any) {
		problems = append(problems, key+": "+fmt.Sprintf(format, args...))
	}
	var unknown []string
	for k := range doc {
		if !slices.Contains(pluginContextKeys, k) {
			unknown = append(unknown, strconv.Quote(k))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		word := "key"
		if len(unknown) > 1 {
			word = "keys"
		}
		problems = append(problems, fmt.Sprintf("unknown %s %s; the keys are %s", word, strings.Join(unknown, ", "), strings.Join(pluginContextKeys, ", ")))
	}

	str := func(key string) string {
		raw, ok := doc[key]
		if !ok {
			return ""
		}
		var s *string
		if err := json.Unmarshal(raw, &s); err != nil {
			bad(key, "want a string, got %s", pluginJSONKind(raw))
			return ""
		}
		if s == nil {
			return ""
		}
		return *s
	}
	guid := func(key string) uuid.UUID {
		s := str(key)
		if s == "" {
			return uuid.Nil
		}
		id, err := uuid.Parse(s)
		if err != nil {
			bad(key, "want a GUID like 0196d7c2-0000-7000-8000-000000000001, got %q", s)
		}
		return id
	}
	object := func(key string) map[string]any {
		raw, ok := doc[key]
		if !ok {
			return nil
		}
		var m map[string]any
		if err := pluginDecode(raw, &m); err != nil {
			bad(key, "want an object, got %s", pluginJSONKind(raw))
		}
		return m
	}
	images := func(key string) map[string]tables.Row {
		m := object(key)
		if m == nil {
			return map[string]tables.Row{}
		}
		out := make(map[string]tables.Row, len(m))
		for _, name := range pluginSortedKeys(m) {
			row, ok := m[name].(map[string]any)
			if !ok {
				bad(key+"/"+name, "want an object of column values, got %s", pluginDescribe(m[name]))
				continue
			}
			out[name] = tables.Row(row)
		}
		return out
	}

	ex := &pipeline.Execution{
		Message: str(abi.KeyMessage), Table: str(abi.KeyTable), ID: guid(abi.KeyID),
		Stage: pipeline.PreValidation, Mode: pipeline.Sync, Depth: 1,
		UserID: guid(abi.KeyUserID), InitiatingUserID: guid(abi.KeyInitiatingUserID),
		CorrelationID: guid(abi.KeyCorrelationID), RequestID: guid(abi.KeyRequestID),
		Step: str(abi.KeyStep), Config: str(abi.KeyConfig), SecureConfig: str(abi.KeySecureConfig),
		InputParameters:  pluginNonNil(object(abi.KeyInput)),
		OutputParameters: pluginNonNil(object(abi.KeyOutput)),
		SharedVariables:  pluginNonNil(object(abi.KeyShared)),
		PreImages:        images(abi.KeyPreImage),
		PostImages:       images(abi.KeyPostImage),
	}
	handler := str(abi.KeyHandler)
	if raw, ok := doc[abi.KeyStage]; ok && !pluginIsNull(raw) {
		st, err := parsePluginStage(raw)
		if err != nil {
			bad(abi.KeyStage, "%v", err)
		}
		ex.Stage = st
	}
	if raw, ok := doc[abi.KeyMode]; ok && !pluginIsNull(raw) {
		var m pipeline.Mode
		if json.Unmarshal(raw, &m) != nil || (m != pipeline.Sync && m != pipeline.Async) {
			bad(abi.KeyMode, "want \"sync\" or \"async\", got %s", raw)
		}
		ex.Mode = m
	}
	if raw, ok := doc[abi.KeyDepth]; ok && !pluginIsNull(raw) {
		n, err := strconv.Atoi(string(raw))
		if err != nil || n < 1 {
			bad(abi.KeyDepth, "want a positive integer (1 for a message from outside), got %s", raw)
		}
		ex.Depth = n
	}
	ex.OperationTime = time.Now().UTC()
	if s := str(abi.KeyOperationTime); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			bad(abi.KeyOperationTime, "want an RFC 3339 time like 2026-03-14T15:09:26Z, got %q", s)
		}
		ex.OperationTime = t.UTC()
	}

	// The Target: input.Target, or target as the context document repeats
	// it; a row for Create and Update, and for other messages unless it is
	// a reference ({"table", "id"}).
	target, hasTarget := ex.InputParameters["Target"]
	if raw, ok := doc[abi.KeyTarget]; ok && !pluginIsNull(raw) {
		var t any
		_ = pluginDecode(raw, &t)
		switch {
		case !hasTarget:
			target, hasTarget = t, true
		case pluginValueJSON(t) != pluginValueJSON(target):
			bad(abi.KeyTarget, "differs from input.Target; give one of them")
		}
	}
	if hasTarget {
		ex.InputParameters["Target"] = pluginTarget(ex.Message, target)
	}

	if len(problems) > 0 {
		return "", nil, &pluginContextError{file: file, problems: problems}
	}
	return handler, ex, nil
}

// pluginTarget converts a decoded Target for the Execution.
func pluginTarget(message string, v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	if message != pipeline.Create && message != pipeline.Update && len(m) == 2 {
		table, ok1 := m["table"].(string)
		s, ok2 := m["id"].(string)
		if id, err := uuid.Parse(s); ok1 && ok2 && err == nil {
			return tables.Reference{Table: table, ID: id}
		}
	}
	return tables.Row(m)
}

// parsePluginStage reads a stage as its number or its name.
func parsePluginStage(raw json.RawMessage) (pipeline.Stage, error) {
	stages := []pipeline.Stage{pipeline.PreValidation, pipeline.PreOperation, pipeline.MainOperation, pipeline.PostOperation}
	var name string
	if json.Unmarshal(raw, &name) == nil {
		for _, s := range stages {
			if strings.EqualFold(s.String(), name) {
				return s, nil
			}
		}
	} else if n, err := strconv.Atoi(string(raw)); err == nil && slices.Contains(stages, pipeline.Stage(n)) {
		return pipeline.Stage(n), nil
	}
	return 0, fmt.Errorf("want 10 (PreValidation), 20 (PreOperation), 30 (MainOperation) or 40 (PostOperation), got %s", raw)
}

// pluginDecode decodes one JSON value, numbers as json.Number, and
// refuses data after it.
func pluginDecode(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("data after the JSON value")
	}
	return nil
}

// pluginJSONProblem describes why data is not a JSON object, with the line and
// column of a syntax error.
func pluginJSONProblem(data []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		line, col := pluginLineColumn(data, se.Offset)
		return fmt.Sprintf("not valid JSON at line %d, column %d: %s", line, col, se.Error())
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "not valid JSON: it ends before the object does"
	case errors.As(err, &te):
		return "want a JSON object, got " + te.Value
	}
	return "not valid JSON: " + err.Error()
}

// pluginLineColumn returns the 1-based line and column of a byte offset.
func pluginLineColumn(data []byte, offset int64) (line, col int) {
	offset = min(offset, int64(len(data)))
	before := data[:offset]
	line = bytes.Count(before, []byte("\n")) + 1
	col = int(offset) - (bytes.LastIndexByte(before, '\n') + 1)
	return line, max(col, 1)
}

func pluginIsNull(raw json.RawMessage) bool { return string(bytes.TrimSpace(raw)) == "null" }

// pluginJSONKind names the kind of a JSON value: string, number, object...
func pluginJSONKind(raw json.RawMessage) string {
	var v any
	if pluginDecode(raw, &v) != nil {
		return "invalid JSON"
	}
	return pluginDescribe(v)
}

func pluginDescribe(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
