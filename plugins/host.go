package plugins

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/bizevents/bizevents/sdk/go/abi"
)

// The host functions of module bizevents_v1, as sdk/ABI.md specifies them.
// Each finds its call through the context wazero passes it: the context of
// the bizevents_handle call, which carries the *call. Outside a call (in a
// module's _initialize) they fail with NOT_ALLOWED.
//
// A host function that cannot answer with an errno (trace, fail with a
// pointer outside memory) or that finds the call's budget spent stops the
// call: it records why in the call and panics, which wazero turns into an
// error of the bizevents_handle call; the instance is then discarded.

type callKey struct{}

func callOf(ctx context.Context) *call {
	c, _ := ctx.Value(callKey{}).(*call)
	return c
}

var (
	i32  = api.ValueTypeI32
	errs = func(e abi.Errno) uint64 { return uint64(uint32(int32(e))) }
)

type hostFunc struct {
	name    string
	params  []api.ValueType
	results []api.ValueType
	fn      api.GoModuleFunc
}

// hostFuncs lists the host functions with their signatures; the import
// check at Load compares against it.
var hostFuncs = []hostFunc{
	{abi.FuncGet, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, hostGet},
	{abi.FuncResultRead, []api.ValueType{i32, i32}, []api.ValueType{i32}, hostResultRead},
	{abi.FuncSet, []api.ValueType{i32, i32, i32, i32}, []api.ValueType{i32}, hostSet},
	{abi.FuncExecute, []api.ValueType{i32, i32}, []api.ValueType{i32}, hostExecute},
	{abi.FuncTrace, []api.ValueType{i32, i32}, nil, hostTrace},
	{abi.FuncFail, []api.ValueType{i32, i32}, nil, hostFail},
}

// instantiateHost adds module bizevents_v1 to a runtime.
func instantiateHost(ctx context.Context, r wazero.Runtime) error {
	b := r.NewHostModuleBuilder(abi.ImportModule)
	for _, f := range hostFuncs {
		b.NewFunctionBuilder().WithGoModuleFunction(f.fn, f.params, f.results).WithName(f.name).Export(f.name)
	}
	_, err := b.Instantiate(ctx)
	return err
}

// enter finds the call and counts a host call against its budget.
func enter(ctx context.Context, name string) *call {
	c := callOf(ctx)
	if c == nil {
		return nil
	}
	c.hostCalls++
	if c.hostCalls > c.m.rt.cfg.MaxHostCalls {
		c.stop(KindHostCalls, fmt.Sprintf("made more than %d host calls (the last was %s) and was stopped", c.m.rt.cfg.MaxHostCalls, name))
	}
	return c
}

// get(key_ptr, key_len, buf_ptr, buf_len) -> len | errno: the value is
// pending, and copied into buf when it fits, so that reading a small value
// takes one host call.
func hostGet(ctx context.Context, mod api.Module, stack []uint64) {
	c := enter(ctx, abi.FuncGet)
	if c == nil {
		stack[0] = errs(abi.ErrNotAllowed)
		return
	}
	c.clearResult()
	key, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		stack[0] = errs(abi.ErrOutOfBounds)
		return
	}
	buf, e := c.appendKey(c.inst.result[:0], string(key))
	if e != 0 {
		stack[0] = errs(e)
		return
	}
	if len(buf) > c.m.rt.cfg.MaxValueSize {
		stack[0] = errs(abi.ErrTooLarge)
		return
	}
	c.inst.result, c.hasResult = buf, true
	if n := len(buf); n > 0 && uint64(n) <= uint64(uint32(stack[3])) {
		if !mod.Memory().Write(uint32(stack[2]), buf) {
			stack[0] = errs(abi.ErrOutOfBounds)
			return
		}
	}
	stack[0] = uint64(uint32(len(buf)))
}

// result_read(ptr, len) -> len | errno
func hostResultRead(ctx context.Context, mod api.Module, stack []uint64) {
	c := enter(ctx, abi.FuncResultRead)
	if c == nil {
		stack[0] = errs(abi.ErrNotAllowed)
		return
	}
	if !c.hasResult {
		stack[0] = errs(abi.ErrNoResult)
		return
	}
	res := c.inst.result
	if uint64(len(res)) <= uint64(uint32(stack[1])) && len(res) > 0 {
		if !mod.Memory().Write(uint32(stack[0]), res) {
			stack[0] = errs(abi.ErrOutOfBounds)
			return
		}
	}
	stack[0] = uint64(uint32(len(res)))
}

// set(key_ptr, key_len, val_ptr, val_len) -> 0 | errno
func hostSet(ctx context.Context, mod api.Module, stack []uint64) {
	c := enter(ctx, abi.FuncSet)
	if c == nil {
		stack[0] = errs(abi.ErrNotAllowed)
		return
	}
	if int64(uint32(stack[3])) > int64(c.m.rt.cfg.MaxValueSize) {
		stack[0] = errs(abi.ErrTooLarge)
		return
	}
	mem := mod.Memory()
	key, ok1 := mem.Read(uint32(stack[0]), uint32(stack[1]))
	val, ok2 := mem.Read(uint32(stack[2]), uint32(stack[3]))
	if !ok1 || !ok2 {
		stack[0] = errs(abi.ErrOutOfBounds)
		return
	}
	e, msg := c.set(string(key), val)
	if e != 0 {
		c.trace.add("[bizevents: " + msg + "]")
	}
	stack[0] = errs(e)
}

// execute(req_ptr, req_len) -> len | errno
func hostExecute(ctx context.Context, mod api.Module, stack []uint64) {
	c := enter(ctx, abi.FuncExecute)
	if c == nil {
		stack[0] = errs(abi.ErrNotAllowed)
		return
	}
	c.clearResult()
	if int64(uint32(stack[1])) > int64(c.m.rt.cfg.MaxValueSize) {
		stack[0] = errs(abi.ErrTooLarge)
		return
	}
	raw, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		stack[0] = errs(abi.ErrOutOfBounds)
		return
	}
	if c.ex.Service == nil {
		stack[0] = errs(abi.ErrNotAllowed)
		return
	}
	// Copy the request: the nested message may run this module again and
	// nothing may alias guest memory across it.
	resp, err := c.execute(ctx, append([]byte(nil), raw...))
	if err != nil {
		c.lastExecErr = err
		c.inst.result, c.hasResult = appendError(c.inst.result[:0], err), true
		stack[0] = errs(abi.ErrFailed)
		return
	}
	if len(resp) > c.m.rt.cfg.MaxValueSize {
		stack[0] = errs(abi.ErrTooLarge)
		return
	}
	c.inst.result, c.hasResult = append(c.inst.result[:0], resp...), true
	stack[0] = uint64(uint32(len(resp)))
}

// trace(ptr, len)
func hostTrace(ctx context.Context, mod api.Module, stack []uint64) {
	c := enter(ctx, abi.FuncTrace)
	if c == nil {
		return
	}
	if c.trace.dropped > 0 {
		c.trace.dropped++ // over the cap: no need to read it
		return
	}
	msg, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		c.stop(KindABI, "called trace with a pointer outside its memory")
	}
	c.trace.add(string(msg))
}

// fail(ptr, len)
func hostFail(ctx context.Context, mod api.Module, stack []uint64) {
	c := enter(ctx, abi.FuncFail)
	if c == nil {
		return
	}
	msg, ok := mod.Memory().Read(uint32(stack[0]), uint32(stack[1]))
	if !ok {
		c.stop(KindABI, "called fail with a pointer outside its memory")
	}
	s := string(msg)
	if len(s) > maxFailBytes {
		s = truncate(s, maxFailBytes) + "…"
	}
	c.failMsg, c.failed = s, true
}
