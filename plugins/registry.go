package plugins

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/bizevents/bizevents/engine/pipeline"
)

// Handler adapts a handler of a module to the pipeline: a step whose
// handler is this runs the plugin on its execution.
func Handler(m *Module, handler string) pipeline.Handler {
	return pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
		_, err := m.Call(ctx, handler, ex)
		return err
	})
}

// Registry maps module names to their current Module, and finds handlers
// for the pipeline by "module/handler" names, e.g.
// "contoso_validation/ValidatePurchase". Loading a module under a name
// that has one swaps it: calls already running finish on the old module,
// which closes after its last call; new calls run on the new one. It is
// safe for concurrent use.
type Registry struct {
	rt *Runtime

	mu   sync.RWMutex
	mods map[string]*Module
}

var _ pipeline.Handlers = (*Registry)(nil)

// NewRegistry returns an empty registry of modules run by rt.
func NewRegistry(rt *Runtime) *Registry {
	return &Registry{rt: rt, mods: map[string]*Module{}}
}

// Load loads wasm as the module called name. When the name already has a
// module with the same content hash nothing changes; otherwise the new
// module takes the name and the old one closes when its calls finish. A
// module that does not load leaves the registry as it was.
func (r *Registry) Load(ctx context.Context, name string, wasm []byte) (*Module, error) {
	hash := Hash(wasm)
	if m, ok := r.Module(name); ok && m.Hash() == hash {
		return m, nil
	}
	m, err := r.rt.Load(ctx, name, wasm)
	if err != nil {
		return nil, err
	}
	r.Set(name, m)
	return m, nil
}

// Set makes m the module called name. The module it replaces closes when
// its calls finish.
func (r *Registry) Set(name string, m *Module) {
	r.mu.Lock()
	old := r.mods[name]
	r.mods[name] = m
	r.mu.Unlock()
	if old != nil && old != m {
		old.closeWhenIdle()
	}
}

// Remove takes the module called name out; it closes when its calls
// finish.
func (r *Registry) Remove(name string) {
	r.mu.Lock()
	old := r.mods[name]
	delete(r.mods, name)
	r.mu.Unlock()
	if old != nil {
		old.closeWhenIdle()
	}
}

// Module returns the current module called name.
func (r *Registry) Module(name string) (*Module, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	m, ok := r.mods[name]
	return m, ok
}

// Names returns the names of the registered modules.
func (r *Registry) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return sortedKeys(r.mods)
}

// Handler returns the handler "module/handler" when the module is
// registered. The handler runs on the module that is current when it is
// called, so a handler found before a swap runs the new module.
func (r *Registry) Handler(name string) (pipeline.Handler, bool) {
	mod, handler, ok := strings.Cut(name, "/")
	if !ok || mod == "" || handler == "" {
		return nil, false
	}
	if _, ok := r.Module(mod); !ok {
		return nil, false
	}
	return pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
		_, err := r.Call(ctx, mod, handler, ex)
		return err
	}), true
}

// Call runs a handler of the module currently called mod.
func (r *Registry) Call(ctx context.Context, mod, handler string, ex *pipeline.Execution) (*Result, error) {
	for {
		m, ok := r.Module(mod)
		if !ok {
			return &Result{}, &PluginError{Module: mod, Handler: handler, Kind: KindClosed, Message: "no module of that name is loaded"}
		}
		if m.acquire() {
			defer m.release()
			return m.call(ctx, handler, ex)
		}
		// m was swapped out between the lookup and the acquire: the map
		// has its successor now, or nothing.
		if cur, _ := r.Module(mod); cur == m {
			return &Result{}, m.closedError(handler)
		}
	}
}

// Close closes every module, waiting for their calls (or ctx). The
// runtime stays open.
func (r *Registry) Close(ctx context.Context) error {
	r.mu.Lock()
	mods := r.mods
	r.mods = map[string]*Module{}
	r.mu.Unlock()
	var errs []error
	for _, m := range mods {
		errs = append(errs, m.Close(ctx))
	}
	return errors.Join(errs...)
}

// Sync makes the registry's modules exactly want, module names to content
// hashes: a name whose module has another hash, or none, gets the module
// fetch returns for the hash (checked against it); names not in want are
// removed. Calls in flight finish on the modules they started on. Every
// module that fails to load is reported, and its name keeps the module it
// had.
func (r *Registry) Sync(ctx context.Context, want map[string]string, fetch func(ctx context.Context, hash string) ([]byte, error)) error {
	var errs []error
	for _, name := range sortedKeys(want) {
		hash := want[name]
		if m, ok := r.Module(name); ok && m.Hash() == hash {
			continue
		}
		wasm, err := fetch(ctx, hash)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin %s: %w", name, err))
			continue
		}
		if got := Hash(wasm); got != hash {
			errs = append(errs, fmt.Errorf("plugin %s: the stored module has hash %s, not %s", name, got, hash))
			continue
		}
		if _, err := r.Load(ctx, name, wasm); err != nil {
			errs = append(errs, err)
		}
	}
	for _, name := range r.Names() {
		if _, ok := want[name]; !ok {
			r.Remove(name)
		}
	}
	return errors.Join(errs...)
}
