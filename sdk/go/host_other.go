//go:build !wasip1

package sdk

import "github.com/bizevents/bizevents/sdk/go/abi"

// Outside a wasm guest there is no host: the host functions are variables
// that this package's tests replace with a stand-in, and that otherwise
// fail with NOT_ALLOWED, so that a plugin's pure code still builds and
// tests natively.
var (
	hostGet          = func(key string, buf []byte) int32 { return int32(abi.ErrNotAllowed) }
	hostResultRead   = func(buf []byte) int32 { return int32(abi.ErrNoResult) }
	hostResultLength = func() int32 { return int32(abi.ErrNoResult) }
	hostSet          = func(key string, val []byte) int32 { return int32(abi.ErrNotAllowed) }
	hostExecute      = func(req []byte) int32 { return int32(abi.ErrNotAllowed) }
	hostTrace        = func(msg string) {}
	hostFail         = func(msg string) {}
)
