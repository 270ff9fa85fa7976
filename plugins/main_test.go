package plugins_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/plugins"
)

// workDir holds the guest modules built by this test binary; it lives as
// long as the binary.
var workDir string

// cacheDir is the compilation cache the tests' runtimes share: the
// default one, so that a module is compiled once per version across test
// runs too (compiling a Go guest takes about a second, ten under -race).
var cacheDir = plugins.DefaultCacheDir()

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bizevents-plugins-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

type build struct {
	once sync.Once
	wasm []byte
	err  error
}

var builds sync.Map // name and flags -> *build

// guest builds testdata/<name> into a plugin module, once per test binary
// for the same name and linker flags, compiles it into the shared cache
// (so that tests loading it at once do not all compile it), and returns
// its bytes.
func guest(t testing.TB, name string, ldflags ...string) []byte {
	t.Helper()
	key := name + " " + strings.Join(ldflags, " ")
	v, _ := builds.LoadOrStore(key, &build{})
	b := v.(*build)
	b.once.Do(func() {
		sum := sha256.Sum256([]byte(key))
		out := filepath.Join(workDir, name+"-"+hex.EncodeToString(sum[:4])+".wasm")
		args := []string{"build", "-buildmode=c-shared", "-o", out}
		if len(ldflags) > 0 {
			args = append(args, "-ldflags="+strings.Join(ldflags, " "))
		}
		args = append(args, "./testdata/"+name)
		cmd := exec.Command("go", args...)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "GOFLAGS=")
		if outb, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("build guest %s: %v\n%s", name, err, outb)
			return
		}
		if b.wasm, b.err = os.ReadFile(out); b.err != nil {
			return
		}
		ctx := context.Background()
		rt, err := plugins.New(ctx, plugins.Config{CacheDir: cacheDir})
		if err != nil {
			b.err = err
			return
		}
		defer rt.Close(ctx)
		_, b.err = rt.Load(ctx, name, b.wasm)
	})
	require.NoError(t, b.err)
	return b.wasm
}

// newRuntime starts a runtime sharing the test binary's compilation cache,
// with config changes, closed when the test ends.
func newRuntime(t testing.TB, change ...func(*plugins.Config)) *plugins.Runtime {
	t.Helper()
	cfg := plugins.Config{CacheDir: cacheDir}
	for _, f := range change {
		f(&cfg)
	}
	rt, err := plugins.New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	return rt
}

// load builds and loads a guest module.
func load(t testing.TB, rt *plugins.Runtime, name string) *plugins.Module {
	t.Helper()
	m, err := rt.Load(context.Background(), name, guest(t, name))
	require.NoError(t, err)
	return m
}

var (
	userID        = uuid.MustParse("0196d7c2-0000-7000-8000-000000000001")
	correlationID = uuid.MustParse("0196d7c2-0000-7000-8000-0000000000c0")
	requestID     = uuid.MustParse("0196d7c2-0000-7000-8000-0000000000e0")
	rowID         = uuid.MustParse("0196d7c2-0000-7000-8000-00000000a001")
	opTime        = time.Date(2026, 3, 14, 15, 9, 26, 535897000, time.UTC)
)

// execution is a Create of an account on a stage, as the pipeline would
// hand it to a step.
func execution(stage pipeline.Stage, target tables.Row, params map[string]any) *pipeline.Execution {
	in := map[string]any{"Target": target}
	for k, v := range params {
		in[k] = v
	}
	return &pipeline.Execution{
		Message: pipeline.Create, Table: "account", ID: rowID, Stage: stage, Mode: pipeline.Sync, Depth: 1,
		UserID: userID, InitiatingUserID: userID, CorrelationID: correlationID, RequestID: requestID,
		OperationTime:   opTime,
		InputParameters: in, OutputParameters: map[string]any{}, SharedVariables: map[string]any{},
		PreImages: map[string]tables.Row{}, PostImages: map[string]tables.Row{},
		Step: "test-step", Config: "cfg", SecureConfig: "secret",
	}
}

func requireCode(t *testing.T, err error, code errcode.Code) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, code, errcode.Of(err), "error: %v", err)
}

// requireKind asserts err is a *PluginError of the kind.
func requireKind(t *testing.T, err error, kind plugins.Kind) *plugins.PluginError {
	t.Helper()
	pe, ok := err.(*plugins.PluginError)
	require.True(t, ok, "want a *PluginError, got %T: %v", err, err)
	require.Equal(t, kind, pe.Kind, "error: %v", err)
	return pe
}
