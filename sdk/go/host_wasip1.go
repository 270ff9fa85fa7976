//go:build wasip1

package sdk

import "unsafe"

// The host functions, imported from module bizevents_v1 (sdk/ABI.md).

//go:wasmimport bizevents_v1 get
func wasmGet(key unsafe.Pointer, keyLen uint32, buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport bizevents_v1 result_read
func wasmResultRead(buf unsafe.Pointer, bufLen uint32) int32

//go:wasmimport bizevents_v1 set
func wasmSet(key unsafe.Pointer, keyLen uint32, val unsafe.Pointer, valLen uint32) int32

//go:wasmimport bizevents_v1 execute
func wasmExecute(req unsafe.Pointer, reqLen uint32) int32

//go:wasmimport bizevents_v1 trace
func wasmTrace(msg unsafe.Pointer, msgLen uint32)

//go:wasmimport bizevents_v1 fail
func wasmFail(msg unsafe.Pointer, msgLen uint32)

func hostGet(key string, buf []byte) int32 {
	return wasmGet(unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)),
		unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)))
}

func hostResultRead(buf []byte) int32 {
	return wasmResultRead(unsafe.Pointer(unsafe.SliceData(buf)), uint32(len(buf)))
}

func hostResultLength() int32 { return wasmResultRead(nil, 0) }

func hostSet(key string, val []byte) int32 {
	return wasmSet(unsafe.Pointer(unsafe.StringData(key)), uint32(len(key)),
		unsafe.Pointer(unsafe.SliceData(val)), uint32(len(val)))
}

func hostExecute(req []byte) int32 {
	return wasmExecute(unsafe.Pointer(unsafe.SliceData(req)), uint32(len(req)))
}

func hostTrace(msg string) { wasmTrace(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg))) }

func hostFail(msg string) { wasmFail(unsafe.Pointer(unsafe.StringData(msg)), uint32(len(msg))) }

// The exports (sdk/ABI.md, "Exports").

//go:wasmexport bizevents_handle
func bizeventsHandle() int32 { return dispatch() }

//go:wasmexport bizevents_abi_v1
func bizeventsABIv1() {}
