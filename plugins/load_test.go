package plugins_test

import (
	"context"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/plugins"
)

// A tiny WebAssembly writer, to build modules that no toolchain would
// (wrong imports, missing exports, a bare unreachable) and to show that a
// module written by hand, with no SDK, speaks the ABI.

const (
	i32 = 0x7f
	// opcodes
	opUnreachable = 0x00
	opDrop        = 0x1a
	opCall        = 0x10
	opI32Const    = 0x41
	opEnd         = 0x0b
)

type wImport struct {
	module, name    string
	params, results []byte
}

type wFunc struct {
	export          string
	params, results []byte
	body            []byte // without the final end
}

type wModule struct {
	imports []wImport
	funcs   []wFunc
	memory  string // export name of a one-page memory; "" for none
	data    []byte // at offset 0
}

func uleb(n int) []byte {
	var b []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if n != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if n == 0 {
			return b
		}
	}
}

// sleb encodes a small signed constant.
func sleb(n int) []byte {
	var b []byte
	for {
		c := byte(n & 0x7f)
		n >>= 7
		if (n == 0 && c&0x40 == 0) || (n == -1 && c&0x40 != 0) {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func vec(items ...[]byte) []byte {
	out := uleb(len(items))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func name(s string) []byte { return append(uleb(len(s)), s...) }

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(len(body))...), body...)
}

func (m wModule) bytes() []byte {
	var types, imports, funcs, exports, codes [][]byte
	for _, im := range m.imports {
		imports = append(imports, append(append(name(im.module), name(im.name)...), 0x00, byte(len(types))))
		types = append(types, append(append([]byte{0x60}, vec(bytesOf(im.params)...)...), vec(bytesOf(im.results)...)...))
	}
	for i, f := range m.funcs {
		funcs = append(funcs, uleb(len(types)))
		types = append(types, append(append([]byte{0x60}, vec(bytesOf(f.params)...)...), vec(bytesOf(f.results)...)...))
		if f.export != "" {
			exports = append(exports, append(name(f.export), append([]byte{0x00}, uleb(len(m.imports)+i)...)...))
		}
		body := append([]byte{0x00}, f.body...) // no locals
		body = append(body, opEnd)
		codes = append(codes, append(uleb(len(body)), body...))
	}
	if m.memory != "" {
		exports = append(exports, append(name(m.memory), 0x02, 0x00))
	}
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	out = append(out, section(1, vec(types...))...)
	if len(imports) > 0 {
		out = append(out, section(2, vec(imports...))...)
	}
	out = append(out, section(3, vec(funcs...))...)
	if m.memory != "" {
		out = append(out, section(5, vec([]byte{0x00, 0x01}))...)
	}
	out = append(out, section(7, vec(exports...))...)
	out = append(out, section(10, vec(codes...))...)
	if len(m.data) > 0 {
		seg := append([]byte{0x00, opI32Const, 0x00, opEnd}, append(uleb(len(m.data)), m.data...)...)
		out = append(out, section(11, vec(seg))...)
	}
	return out
}

func bytesOf(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i, c := range b {
		out[i] = []byte{c}
	}
	return out
}

func i32Const(n int) []byte { return append([]byte{opI32Const}, sleb(n)...) }

// plugin is a minimal valid plugin whose handle has the given body.
func plugin(body []byte, imports ...wImport) wModule {
	return wModule{
		imports: imports,
		funcs: []wFunc{
			{export: "bizevents_abi_v1"},
			{export: "bizevents_handle", results: []byte{i32}, body: body},
		},
		memory: "memory",
	}
}

var (
	importGet        = wImport{"bizevents_v1", "get", []byte{i32, i32, i32, i32}, []byte{i32}}
	importResultRead = wImport{"bizevents_v1", "result_read", []byte{i32, i32}, []byte{i32}}
	importFail       = wImport{"bizevents_v1", "fail", []byte{i32, i32}, nil}
)

func TestLoadRefusesWhatIsNotAPlugin(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ok := plugin(i32Const(0))
	tests := []struct {
		name string
		wasm []byte
		want []string
	}{
		{"not wasm", []byte("#!/bin/sh\necho hi\n"), []string{"not a valid WebAssembly module"}},
		{"no marker", wModule{funcs: []wFunc{{export: "bizevents_handle", results: []byte{i32}, body: i32Const(0)}}, memory: "memory"}.bytes(),
			[]string{"it is not a bizevents plugin: it exports no bizevents_abi_v1 marker"}},
		{"another ABI version", wModule{funcs: []wFunc{{export: "bizevents_abi_v2"}, {export: "bizevents_handle", results: []byte{i32}, body: i32Const(0)}}, memory: "memory"}.bytes(),
			[]string{"it was built for plugin ABI v2, and this host runs ABI v1"}},
		{"no handle", wModule{funcs: []wFunc{{export: "bizevents_abi_v1"}}, memory: "memory"}.bytes(),
			[]string{"it exports no bizevents_handle function"}},
		{"handle of the wrong type", wModule{funcs: []wFunc{{export: "bizevents_abi_v1"}, {export: "bizevents_handle", params: []byte{i32}, results: []byte{i32}, body: i32Const(0)}}, memory: "memory"}.bytes(),
			[]string{"bizevents_handle must take nothing and return an i32"}},
		{"no memory", wModule{funcs: ok.funcs}.bytes(), []string{`it exports no memory named "memory"`}},
		{"command module", wModule{funcs: append(ok.funcs, wFunc{export: "_start"}), memory: "memory"}.bytes(),
			[]string{"it is a command module (it exports _start): build it as a reactor, e.g. go build -buildmode=c-shared"}},
		{"imports from env", plugin(i32Const(0), wImport{"env", "abort", []byte{i32}, nil}).bytes(),
			[]string{"it imports env.abort: a plugin may import from bizevents_v1 and wasi_snapshot_preview1 only"}},
		{"unknown host function", plugin(i32Const(0), wImport{"bizevents_v1", "http_get", []byte{i32, i32}, []byte{i32}}).bytes(),
			[]string{"it imports bizevents_v1.http_get, which ABI v1 does not have"}},
		{"host function of the wrong type", plugin(i32Const(0), wImport{"bizevents_v1", "get", []byte{i32}, []byte{i32}}).bytes(),
			[]string{"it imports bizevents_v1.get with the wrong type (i32) -> (i32)"}},
		{"other ABI's host functions", plugin(i32Const(0), wImport{"bizevents_v2", "get", []byte{i32, i32}, []byte{i32}}).bytes(),
			[]string{"it imports bizevents_v2.get: it was built for another plugin ABI version"}},
		{"not WASI", plugin(i32Const(0), wImport{"wasi_snapshot_preview1", "sock_open", []byte{i32}, []byte{i32}}).bytes(),
			[]string{"it imports wasi_snapshot_preview1.sock_open, which is not a WASI preview 1 function"}},
		{"every problem at once", wModule{imports: []wImport{{"env", "f", nil, nil}}}.bytes(),
			[]string{"no bizevents_abi_v1 marker", "no bizevents_handle", "no memory", "env.f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := rt.Load(context.Background(), "bad_"+strings.ReplaceAll(tt.name, " ", "_"), tt.wasm)
			require.Error(t, err)
			le, isLoad := err.(*plugins.LoadError)
			require.True(t, isLoad, "want a *LoadError, got %T: %v", err, err)
			require.Equal(t, plugins.Hash(tt.wasm), le.Hash)
			require.Equal(t, errcode.InvalidArgument, errcode.Of(err))
			for _, w := range tt.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
	// A valid module loads, and the same bytes compile once.
	m1, err := rt.Load(context.Background(), "ok", ok.bytes())
	require.NoError(t, err)
	m2, err := rt.Load(context.Background(), "ok_again", ok.bytes())
	require.NoError(t, err)
	require.Equal(t, m1.Hash(), m2.Hash())
	_, err = m1.Call(context.Background(), "Any", execution(pipeline.PreOperation, tables.Row{}, nil))
	require.NoError(t, err)
	require.NoError(t, m1.Close(context.Background()))
	_, err = m2.Call(context.Background(), "Any", execution(pipeline.PreOperation, tables.Row{}, nil))
	require.NoError(t, err, "closing one module keeps the compiled code its twin shares")
}

func TestHandWrittenModules(t *testing.T) {
	t.Parallel()
	rt := newRuntime(t)
	ctx := context.Background()
	ex := execution(pipeline.PreOperation, tables.Row{}, nil)

	// Without an SDK: get("handler") into memory at 16 in one call, fail
	// with it: fail(16, get(0, 7, 16, 64)).
	body := i32Const(16)
	body = append(body, i32Const(0)...)
	body = append(body, i32Const(7)...)
	body = append(body, i32Const(16)...)
	body = append(body, i32Const(64)...)
	body = append(body, opCall, 0, opCall, 1)
	body = append(body, i32Const(1)...)
	mod := plugin(body, importGet, importFail)
	mod.data = []byte("handler")
	m, err := rt.Load(ctx, "hand", mod.bytes())
	require.NoError(t, err)
	_, err = m.Call(ctx, "Hand", ex)
	requireCode(t, err, errcode.HandlerFailed)
	require.EqualError(t, err, `"Hand"`)

	// A real unreachable.
	m, err = rt.Load(ctx, "unreachable", plugin([]byte{opUnreachable}).bytes())
	require.NoError(t, err)
	_, err = m.Call(ctx, "Any", ex)
	requireKind(t, err, plugins.KindTrap)
	require.ErrorContains(t, err, "plugin unreachable/Any (sha256:")
	require.ErrorContains(t, err, "trapped: unreachable")
	require.Equal(t, int64(1), m.Stats().Discarded)

	// A result the ABI does not have.
	m, err = rt.Load(ctx, "seven", plugin(i32Const(7)).bytes())
	require.NoError(t, err)
	_, err = m.Call(ctx, "Any", ex)
	requireKind(t, err, plugins.KindABI)
	require.ErrorContains(t, err, "bizevents_handle returned 7; the ABI allows 0 (ok) and 1 (failed)")

	// Failing without a message.
	m, err = rt.Load(ctx, "mute", plugin(i32Const(1)).bytes())
	require.NoError(t, err)
	_, err = m.Call(ctx, "Any", ex)
	requireCode(t, err, errcode.HandlerFailed)
	require.EqualError(t, err, "plugin mute/Any failed without a message")

	// A pointer outside memory: an errno where the function has a result,
	// the end of the call where it has none.
	body = append(i32Const(70000), i32Const(4)...)
	body = append(body, i32Const(0)...)
	body = append(body, i32Const(0)...)
	body = append(body, opCall, 0) // get -> OUT_OF_BOUNDS (-5)
	m, err = rt.Load(ctx, "oob", plugin(body, importGet).bytes())
	require.NoError(t, err)
	_, err = m.Call(ctx, "Any", ex)
	require.ErrorContains(t, err, "bizevents_handle returned -5")
	body = append(i32Const(70000), i32Const(4)...)
	body = append(body, opCall, 0)
	body = append(body, i32Const(1)...)
	m, err = rt.Load(ctx, "oobfail", plugin(body, importFail).bytes())
	require.NoError(t, err)
	_, err = m.Call(ctx, "Any", ex)
	requireKind(t, err, plugins.KindABI)
	require.ErrorContains(t, err, "called fail with a pointer outside its memory")
}
