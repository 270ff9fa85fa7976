package plugins

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"

	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/sdk/go/abi"
)

// Module is a loaded plugin module: compiled code and a pool of instances.
// It is safe for concurrent use: each call takes an instance of its own,
// from the pool or new, and gives it back unless the call trapped,
// panicked, ran out of memory or time, in which case the instance is
// discarded. Close waits for the calls in flight.
type Module struct {
	rt   *Runtime
	name string
	comp *compiled

	// slots bounds the instances serving calls that are not nested in
	// another call: one token per call in flight.
	slots chan struct{}

	mu       sync.Mutex
	idle     []*instance
	refs     int // calls in flight
	closing  bool
	finished bool
	done     chan struct{}

	live      atomic.Int64
	calls     atomic.Int64
	discarded atomic.Int64
}

func newModule(r *Runtime, name string, comp *compiled) *Module {
	return &Module{rt: r, name: name, comp: comp, done: make(chan struct{}), slots: make(chan struct{}, max(r.cfg.PoolSize, 1))}
}

// Name returns the name the module was loaded as.
func (m *Module) Name() string { return m.name }

// Hash returns the module's content hash, hex SHA-256.
func (m *Module) Hash() string { return m.comp.hash }

// Stats are a module's counters.
type Stats struct {
	// Idle instances wait in the pool; Live exist in all (idle and busy).
	Idle, Live int
	// Calls counts calls; Discarded the instances thrown away after a call
	// that trapped, panicked, or ran out of memory or time.
	Calls, Discarded int64
}

// Stats returns the module's counters.
func (m *Module) Stats() Stats {
	m.mu.Lock()
	idle := len(m.idle)
	m.mu.Unlock()
	return Stats{Idle: idle, Live: int(m.live.Load()), Calls: m.calls.Load(), Discarded: m.discarded.Load()}
}

// Result is what a successful or failed call reports besides its error.
type Result struct {
	// Trace is what the plugin wrote: trace lines, stdout and stderr.
	Trace []string
	// Dropped counts the lines beyond the caps.
	Dropped   int
	HostCalls int
	Duration  time.Duration
}

// Call runs a handler of the module on an execution, in a sandboxed
// instance, under the deadline of the execution's mode (Config's
// SyncTimeout or AsyncTimeout, or ctx's own when sooner). Its error is nil,
// the handler's failure (pipeline.Fail's kind, code handler_failed, or the
// error of a message the handler executed, passed on with its code), or a
// *PluginError. The result is never nil.
func (m *Module) Call(ctx context.Context, handler string, ex *pipeline.Execution) (*Result, error) {
	if !m.acquire() {
		return &Result{}, m.closedError(handler)
	}
	defer m.release()
	return m.call(ctx, handler, ex)
}

func (m *Module) closedError(handler string) error {
	return &PluginError{Module: m.name, Hash: m.comp.hash, Handler: handler, Kind: KindClosed, Message: "the module was closed"}
}

// Close stops new calls, waits for the calls in flight (or ctx), then
// releases the module's instances and, when no other Module shares it,
// its compiled code.
func (m *Module) Close(ctx context.Context) error {
	m.closeWhenIdle()
	select {
	case <-m.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// closeWhenIdle stops new calls; the last call in flight finishes the
// module.
func (m *Module) closeWhenIdle() {
	m.mu.Lock()
	m.closing = true
	fin := m.refs == 0 && !m.finished
	if fin {
		m.finished = true
	}
	m.mu.Unlock()
	if fin {
		m.finish()
	}
}

func (m *Module) acquire() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closing {
		return false
	}
	m.refs++
	return true
}

func (m *Module) release() {
	m.mu.Lock()
	m.refs--
	fin := m.closing && m.refs == 0 && !m.finished
	if fin {
		m.finished = true
	}
	m.mu.Unlock()
	if fin {
		m.finish()
	}
}

func (m *Module) finish() {
	m.mu.Lock()
	idle := m.idle
	m.idle = nil
	m.mu.Unlock()
	for _, inst := range idle {
		m.closeInstance(inst)
	}
	m.rt.release(m.comp)
	close(m.done)
}

// instance is one instantiation of a module: its memory, its exports, and
// what the host functions and WASI need while a call runs on it.
type instance struct {
	mod    api.Module
	handle api.Function
	// now is the wall clock the guest reads: the running call's
	// operation time, in Unix nanoseconds.
	now atomic.Int64
	// cur is the running call; set and read on the calling goroutine.
	cur *call
	// result holds the pending result; reused across calls.
	result []byte
}

func (inst *instance) walltime() (int64, int32) {
	ns := inst.now.Load()
	return ns / 1e9, int32(ns % 1e9)
}

// streamWriter takes the guest's stdout (0) or stderr (1) into the running
// call's trace.
type streamWriter struct {
	inst   *instance
	stream int
}

func (w *streamWriter) Write(p []byte) (int, error) {
	if c := w.inst.cur; c != nil {
		c.trace.write(w.stream, p)
	}
	return len(p), nil
}

// instantiate makes a new instance and runs its _initialize.
func (m *Module) instantiate(ctx context.Context) (*instance, error) {
	cfg := m.rt.cfg
	inst := &instance{}
	// The sandbox: no files (no preopened directories), no environment, no
	// arguments, no sockets; the wall clock is the message's time, the
	// monotonic clock is real (Go's scheduler needs it to advance) but
	// sleeping returns at once, so a sleeping guest spins into its
	// deadline instead of blocking the host; randomness is real, so that
	// guests generating ids do not collide.
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(abi.ExportInitialize).
		WithStdout(&streamWriter{inst: inst, stream: 0}).
		WithStderr(&streamWriter{inst: inst, stream: 1}).
		WithWalltime(inst.walltime, sys.ClockResolution(1)).
		WithSysNanotime().
		WithRandSource(rand.Reader)
	init := &call{m: m, inst: inst, handler: abi.ExportInitialize}
	init.trace.reset(cfg.MaxTraceLines, cfg.MaxTraceBytes)
	inst.cur = init
	ictx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.SyncTimeout)
	defer cancel()
	mod, err := m.rt.rt.InstantiateModule(ictx, m.comp.cm, mc)
	inst.cur = nil
	if err != nil {
		init.trace.finish()
		kind, msg := init.classify(ctx, ictx, err, cfg.SyncTimeout)
		return nil, init.pluginError(KindInstantiate, "could not start an instance: "+string(kind)+": "+msg, err)
	}
	inst.mod = mod
	inst.handle = mod.ExportedFunction(abi.ExportHandle)
	m.live.Add(1)
	return inst, nil
}

// get takes an idle instance or makes one.
func (m *Module) get(ctx context.Context) (*instance, error) {
	m.mu.Lock()
	if n := len(m.idle); n > 0 {
		inst := m.idle[n-1]
		m.idle = m.idle[:n-1]
		m.mu.Unlock()
		return inst, nil
	}
	m.mu.Unlock()
	return m.instantiate(ctx)
}

// put gives an instance back to the pool, or closes it when the pool is
// full or the module closing.
func (m *Module) put(inst *instance) {
	m.mu.Lock()
	if !m.closing && len(m.idle) < m.rt.cfg.PoolSize {
		m.idle = append(m.idle, inst)
		m.mu.Unlock()
		return
	}
	m.mu.Unlock()
	m.closeInstance(inst)
}

func (m *Module) closeInstance(inst *instance) {
	_ = inst.mod.Close(context.Background())
	m.live.Add(-1)
}

// call is one call of a handler on an instance.
type call struct {
	m       *Module
	inst    *instance
	handler string
	ex      *pipeline.Execution

	hostCalls   int
	hasResult   bool
	failed      bool
	failMsg     string
	lastExecErr error
	trace       traceBuf
	// stopKind and stopMsg say why a host function stopped the call.
	stopKind Kind
	stopMsg  string
}

func (c *call) clearResult() { c.hasResult = false }

// errStopped is what a host function panics with to stop a call.
var errStopped = errors.New("plugin call stopped by the host")

// stop ends the call from inside a host function.
func (c *call) stop(kind Kind, msg string) {
	c.stopKind, c.stopMsg = kind, msg
	panic(errStopped)
}

func (m *Module) call(ctx context.Context, handler string, ex *pipeline.Execution) (*Result, error) {
	cfg := m.rt.cfg
	m.calls.Add(1)
	timeout := cfg.SyncTimeout
	if ex.Mode == pipeline.Async {
		timeout = cfg.AsyncTimeout
	}
	start := time.Now()
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if callOf(ctx) == nil {
		select {
		case m.slots <- struct{}{}:
			defer func() { <-m.slots }()
		case <-cctx.Done():
			kind, msg := KindTimeout, fmt.Sprintf("waited %s for a free instance of the %d the pool runs at once", timeout, cap(m.slots))
			if errors.Is(ctx.Err(), context.Canceled) {
				kind, msg = KindCanceled, "the caller canceled the call while it waited for a free instance"
			}
			err := &PluginError{Module: m.name, Hash: m.comp.hash, Handler: handler, Kind: kind, Message: msg}
			m.sink(ctx, handler, ex, start, nil, 0, err)
			return &Result{Duration: time.Since(start)}, err
		}
	}
	inst, err := m.get(cctx)
	if err != nil {
		var pe *PluginError
		if errors.As(err, &pe) {
			pe.Handler = handler
		}
		m.sink(ctx, handler, ex, start, nil, 0, err)
		return &Result{Duration: time.Since(start)}, err
	}
	c := &call{m: m, inst: inst, handler: handler, ex: ex}
	c.trace.reset(cfg.MaxTraceLines, cfg.MaxTraceBytes)
	inst.cur = c
	var now int64
	if !ex.OperationTime.IsZero() {
		now = ex.OperationTime.UnixNano()
	}
	inst.now.Store(now)
	res, callErr := inst.handle.Call(context.WithValue(cctx, callKey{}, c))
	inst.cur = nil
	c.trace.finish()
	err, discard := c.outcome(ctx, cctx, res, callErr, timeout)
	if discard {
		m.discarded.Add(1)
		m.closeInstance(inst)
	} else {
		m.put(inst)
	}
	r := &Result{Trace: c.trace.lines, Dropped: c.trace.dropped, HostCalls: c.hostCalls, Duration: time.Since(start)}
	m.sink(ctx, handler, ex, start, r.Trace, r.Dropped, err)
	return r, err
}

// outcome turns how bizevents_handle returned into the call's error, and
// says whether the instance must be discarded.
func (c *call) outcome(parent, cctx context.Context, res []uint64, err error, timeout time.Duration) (error, bool) {
	if c.stopKind != "" {
		return c.pluginError(c.stopKind, c.stopMsg, err), true
	}
	if err != nil {
		kind, msg := c.classify(parent, cctx, err, timeout)
		return c.pluginError(kind, msg, err), true
	}
	if len(res) != 1 {
		return c.pluginError(KindABI, abi.ExportHandle+" returned no result", nil), true
	}
	switch int32(res[0]) {
	case abi.HandleOK:
		return nil, false
	case abi.HandleFailed:
		switch {
		case c.failed:
			return pipeline.Fail("%s", c.failMsg), false
		case c.lastExecErr != nil:
			return c.lastExecErr, false
		}
		return pipeline.Fail("plugin %s/%s failed without a message", c.m.name, c.handler), false
	}
	return c.pluginError(KindABI, fmt.Sprintf("%s returned %d; the ABI allows %d (ok) and %d (failed)",
		abi.ExportHandle, int32(res[0]), abi.HandleOK, abi.HandleFailed), nil), true
}

// classify says what a runtime error of a call means.
func (c *call) classify(parent, cctx context.Context, err error, timeout time.Duration) (Kind, string) {
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		switch exit.ExitCode() {
		case sys.ExitCodeDeadlineExceeded, sys.ExitCodeContextCanceled:
			if errors.Is(parent.Err(), context.Canceled) {
				return KindCanceled, "the caller canceled the call"
			}
			if pdl, ok := parent.Deadline(); ok {
				if cdl, _ := cctx.Deadline(); !pdl.After(cdl) {
					return KindTimeout, "ran past the caller's deadline and was stopped"
				}
			}
			return KindTimeout, fmt.Sprintf("ran past its deadline of %s and was stopped", timeout)
		}
		if kind, msg, ok := c.crashed(); ok {
			return kind, msg
		}
		return KindExit, fmt.Sprintf("exited with code %d in the middle of the call", exit.ExitCode())
	}
	if kind, msg, ok := c.crashed(); ok {
		return kind, msg
	}
	msg := firstLine(err.Error())
	if rest, ok := strings.CutPrefix(msg, "wasm error: "); ok {
		return KindTrap, "trapped: " + rest
	}
	return KindTrap, "stopped: " + msg
}

// crashed reads how the guest's runtime died from what it wrote to
// stderr, when it wrote that: Go prints a panic or fatal error and then
// traps or exits.
func (c *call) crashed() (Kind, string, bool) {
	report := c.trace.crash
	if len(report) == 0 {
		return "", "", false
	}
	text := strings.Join(report, "\n")
	site := crashSite(report)
	switch {
	case isOutOfMemory(text):
		return KindOutOfMemory, c.oomMessage() + site, true
	case strings.HasPrefix(report[0], "panic: "):
		return KindPanic, "panicked: " + strings.TrimPrefix(report[0], "panic: ") + site, true
	}
	return KindPanic, "died: " + report[0] + site, true
}

// crashSite finds the first frame of a Go crash report outside the
// runtime and the SDK: " (at file:line in function)".
func crashSite(report []string) string {
	for i := 0; i+1 < len(report); i++ {
		fn := report[i]
		file := strings.TrimSpace(report[i+1])
		if strings.HasPrefix(fn, "\t") || !strings.HasPrefix(report[i+1], "\t") {
			continue
		}
		if strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "panic(") ||
			strings.HasPrefix(fn, "github.com/bizevents/bizevents/sdk/go.") || strings.HasPrefix(fn, "bizevents_handle(") {
			continue
		}
		if j := strings.LastIndex(file, " +0x"); j >= 0 {
			file = file[:j]
		}
		if j := strings.LastIndexByte(fn, '('); j > 0 {
			fn = fn[:j]
		}
		return " (at " + file + " in " + fn + ")"
	}
	return ""
}

func isOutOfMemory(report string) bool {
	return strings.Contains(report, "fatal error: out of memory") || strings.Contains(report, "runtime: out of memory") ||
		strings.Contains(report, "memory allocation of")
}

func (c *call) oomMessage() string {
	pages := c.m.rt.cfg.MemoryLimitPages
	return fmt.Sprintf("ran out of memory: the limit is %d pages (%d MiB) per instance", pages, pages/16)
}

// pluginError describes a failed call. Its trace excerpt is the end of
// what the plugin wrote before its runtime's crash report, if any.
func (c *call) pluginError(kind Kind, msg string, err error) *PluginError {
	lines := c.trace.lines
	if c.trace.crash != nil {
		lines = lines[:c.trace.crashAt]
	}
	return &PluginError{Module: c.m.name, Hash: c.m.comp.hash, Handler: c.handler, Kind: kind, Message: msg,
		Trace: excerpt(lines, 5), Err: err}
}

// sink hands the call's trace to the configured sink.
func (m *Module) sink(ctx context.Context, handler string, ex *pipeline.Execution, start time.Time, lines []string, dropped int, err error) {
	s := m.rt.cfg.TraceSink
	if s == nil || (len(lines) == 0 && err == nil) {
		return
	}
	s.WriteTrace(ctx, Trace{
		Module: m.name, Hash: m.comp.hash, Handler: handler, Step: ex.Step, Message: ex.Message, Table: ex.Table,
		Stage: ex.Stage, Mode: ex.Mode, Depth: ex.Depth, CorrelationID: ex.CorrelationID, RequestID: ex.RequestID,
		OperationTime: ex.OperationTime, Start: start, Duration: time.Since(start), Lines: lines, Dropped: dropped, Err: err,
	})
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// lineAfter returns the rest of the line where marker first occurs.
func lineAfter(s, marker string) string {
	i := strings.Index(s, marker)
	if i < 0 {
		return ""
	}
	return strings.TrimSpace(firstLine(s[i+len(marker):]))
}
