package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/bizevents/bizevents/sdk/go/abi"
)

// Runtime runs plugin modules: one wazero runtime in compiled mode, with
// the host functions of sdk/ABI.md, WASI without files, network or
// environment, and a compilation cache on disk. It is safe for concurrent
// use; Close releases it.
type Runtime struct {
	cfg   Config
	log   *slog.Logger
	rt    wazero.Runtime
	cache wazero.CompilationCache
	// wasi are the WASI functions a plugin may import, with their types.
	wasi map[string]api.FunctionDefinition

	mu       sync.Mutex
	compiled map[string]*compiled
	closed   bool
}

// compiled is a module compiled once per content hash, shared by the
// Modules loaded from the same bytes.
type compiled struct {
	hash  string
	ready chan struct{}
	cm    wazero.CompiledModule
	err   error
	refs  int
}

// New starts a runtime.
func New(ctx context.Context, cfg Config) (*Runtime, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	rc := wazero.NewRuntimeConfigCompiler().
		WithMemoryLimitPages(cfg.MemoryLimitPages).
		WithCloseOnContextDone(true)
	r := &Runtime{cfg: cfg, log: cfg.Logger.With("component", "plugins"), compiled: map[string]*compiled{}}
	if !cfg.NoCompilationCache {
		cache, err := wazero.NewCompilationCacheWithDir(cfg.CacheDir)
		if err != nil {
			return nil, fmt.Errorf("plugins: compilation cache in %s: %w", cfg.CacheDir, err)
		}
		r.cache = cache
		rc = rc.WithCompilationCache(cache)
	}
	r.rt = wazero.NewRuntimeWithConfig(ctx, rc)
	wasi, err := wasi_snapshot_preview1.NewBuilder(r.rt).Compile(ctx)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("plugins: compile WASI: %w", err), r.Close(ctx))
	}
	r.wasi = wasi.ExportedFunctions()
	if _, err := r.rt.InstantiateModule(ctx, wasi, wazero.NewModuleConfig()); err != nil {
		return nil, errors.Join(fmt.Errorf("plugins: instantiate WASI: %w", err), r.Close(ctx))
	}
	if err := instantiateHost(ctx, r.rt); err != nil {
		return nil, errors.Join(fmt.Errorf("plugins: instantiate %s: %w", abi.ImportModule, err), r.Close(ctx))
	}
	return r, nil
}

// Config returns the runtime's configuration, defaulted.
func (r *Runtime) Config() Config { return r.cfg }

// Close closes the runtime, every module and instance of it, and the
// compilation cache. Calls still running fail.
func (r *Runtime) Close(ctx context.Context) error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	var errs []error
	if r.rt != nil {
		errs = append(errs, r.rt.Close(ctx))
	}
	if r.cache != nil {
		errs = append(errs, r.cache.Close(ctx))
	}
	return errors.Join(errs...)
}

// Hash returns the content hash that identifies a module: the hex SHA-256
// of its bytes.
func Hash(wasm []byte) string {
	sum := sha256.Sum256(wasm)
	return hex.EncodeToString(sum[:])
}

// Load compiles a module (once per content hash: a second Load of the same
// bytes reuses the compilation), checks it against the ABI, and returns
// it ready to call, with Config.PreWarm instances made. A module that is
// not a plugin for this ABI is a *LoadError listing every problem.
func (r *Runtime) Load(ctx context.Context, name string, wasm []byte) (*Module, error) {
	hash := Hash(wasm)
	comp, err := r.compile(ctx, name, hash, wasm)
	if err != nil {
		return nil, err
	}
	m := newModule(r, name, comp)
	for range r.cfg.PreWarm {
		inst, err := m.instantiate(ctx)
		if err != nil {
			return nil, errors.Join(err, m.Close(ctx))
		}
		m.put(inst)
	}
	r.log.InfoContext(ctx, "plugin module loaded", "module", name, "hash", hash)
	return m, nil
}

func (r *Runtime) compile(ctx context.Context, name, hash string, wasm []byte) (*compiled, error) {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil, fmt.Errorf("plugins: runtime is closed")
	}
	c, ok := r.compiled[hash]
	if ok {
		c.refs++
		r.mu.Unlock()
		<-c.ready
		if c.err != nil {
			r.release(c)
			return nil, relabel(c.err, name)
		}
		return c, nil
	}
	c = &compiled{hash: hash, ready: make(chan struct{}), refs: 1}
	r.compiled[hash] = c
	r.mu.Unlock()

	cm, err := r.rt.CompileModule(ctx, wasm)
	if err != nil {
		err = &LoadError{Module: name, Hash: hash, Problems: []string{"not a valid WebAssembly module: " + err.Error()}}
	} else if problems := r.check(cm); len(problems) > 0 {
		err = &LoadError{Module: name, Hash: hash, Problems: problems}
		_ = cm.Close(ctx)
	}
	c.cm, c.err = cm, err
	close(c.ready)
	if err != nil {
		r.release(c)
		return nil, err
	}
	return c, nil
}

// relabel names the module of a cached LoadError.
func relabel(err error, name string) error {
	var le *LoadError
	if errors.As(err, &le) {
		cp := *le
		cp.Module = name
		return &cp
	}
	return err
}

// release drops a reference to a compiled module, closing it with the
// last.
func (r *Runtime) release(c *compiled) {
	r.mu.Lock()
	c.refs--
	last := c.refs == 0
	if last && r.compiled[c.hash] == c {
		delete(r.compiled, c.hash)
	}
	r.mu.Unlock()
	if last && c.cm != nil {
		_ = c.cm.Close(context.Background())
	}
}

// check lists what makes a compiled module unfit: the ABI marker, the
// exports, and imports beyond bizevents_v1 and the allowed WASI functions.
func (r *Runtime) check(cm wazero.CompiledModule) []string {
	var problems []string
	exports := cm.ExportedFunctions()
	if _, ok := exports[abi.ExportMarker]; !ok {
		var other []string
		for n := range exports {
			if strings.HasPrefix(n, abi.MarkerPrefix) {
				other = append(other, "v"+strings.TrimPrefix(n, abi.MarkerPrefix))
			}
		}
		if len(other) > 0 {
			slices.Sort(other)
			problems = append(problems, fmt.Sprintf("it was built for plugin ABI %s, and this host runs ABI v%d: rebuild it with a matching SDK", strings.Join(other, ", "), abi.Version))
		} else {
			problems = append(problems, fmt.Sprintf("it is not a bizevents plugin: it exports no %s marker (build it with the SDK, see sdk/ABI.md)", abi.ExportMarker))
		}
	}
	if f, ok := exports[abi.ExportHandle]; !ok {
		problems = append(problems, fmt.Sprintf("it exports no %s function", abi.ExportHandle))
	} else if !sameSig(f.ParamTypes(), nil) || !sameSig(f.ResultTypes(), []api.ValueType{i32}) {
		problems = append(problems, fmt.Sprintf("%s must take nothing and return an i32", abi.ExportHandle))
	}
	if _, ok := exports["_start"]; ok {
		if _, ok := exports[abi.ExportInitialize]; !ok {
			problems = append(problems, "it is a command module (it exports _start): build it as a reactor, e.g. go build -buildmode=c-shared")
		}
	}
	if _, ok := cm.ExportedMemories()[abi.ExportMemory]; !ok {
		problems = append(problems, "it exports no memory named \"memory\"")
	}
	if len(cm.ImportedMemories()) > 0 {
		problems = append(problems, "it imports a memory; a plugin must define and export its own")
	}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch mod {
		case abi.ImportModule:
			i := slices.IndexFunc(hostFuncs, func(h hostFunc) bool { return h.name == name })
			if i < 0 {
				problems = append(problems, fmt.Sprintf("it imports %s.%s, which ABI v%d does not have", mod, name, abi.Version))
			} else if !sameSig(f.ParamTypes(), hostFuncs[i].params) || !sameSig(f.ResultTypes(), hostFuncs[i].results) {
				problems = append(problems, fmt.Sprintf("it imports %s.%s with the wrong type %s", mod, name, sigString(f)))
			}
		case wasi_snapshot_preview1.ModuleName:
			def, ok := r.wasi[name]
			if !ok {
				problems = append(problems, fmt.Sprintf("it imports %s.%s, which is not a WASI preview 1 function", mod, name))
			} else if !sameSig(f.ParamTypes(), def.ParamTypes()) || !sameSig(f.ResultTypes(), def.ResultTypes()) {
				problems = append(problems, fmt.Sprintf("it imports %s.%s with the wrong type %s", mod, name, sigString(f)))
			}
		default:
			if strings.HasPrefix(mod, "bizevents_v") {
				problems = append(problems, fmt.Sprintf("it imports %s.%s: it was built for another plugin ABI version, and this host runs v%d", mod, name, abi.Version))
			} else {
				problems = append(problems, fmt.Sprintf("it imports %s.%s: a plugin may import from %s and %s only", mod, name, abi.ImportModule, wasi_snapshot_preview1.ModuleName))
			}
		}
	}
	return problems
}

func sameSig(a, b []api.ValueType) bool { return slices.Equal(a, b) }

func sigString(f api.FunctionDefinition) string {
	names := func(ts []api.ValueType) string {
		s := make([]string, len(ts))
		for i, t := range ts {
			s[i] = api.ValueTypeName(t)
		}
		return strings.Join(s, ", ")
	}
	return "(" + names(f.ParamTypes()) + ") -> (" + names(f.ResultTypes()) + ")"
}
