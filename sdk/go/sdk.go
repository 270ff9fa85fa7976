package sdk

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/bizevents/bizevents/sdk/go/abi"
)

// HandlerFunc is a plugin handler: it reads and changes the execution
// context and returns nil, or an error that fails the message.
type HandlerFunc func(ctx *Context) error

// handlers are the module's handlers by name. A guest is one module
// instance run by one goroutine at a time, so no lock is needed.
var handlers = map[string]HandlerFunc{}

// Register makes h the handler called name, the name a step registration
// refers to ("module/name"). Call it from an init function: a plugin is a
// reactor module, and its main function never runs. Registering a name
// twice panics.
func Register(name string, h HandlerFunc) {
	if name == "" || h == nil {
		panic("sdk.Register: a handler needs a name and a function")
	}
	if _, ok := handlers[name]; ok {
		panic("sdk.Register: handler " + name + " is registered twice")
	}
	handlers[name] = h
}

// lastExecErr is the last error the organization service returned in this
// call: returned unchanged by the handler, it is passed on with its code.
var lastExecErr *Error

// dispatch runs the handler the host asks for: the body of the
// bizevents_handle export.
func dispatch() int32 {
	lastExecErr = nil
	name, err := getString(abi.KeyHandler)
	if err != nil {
		hostFail("the host gave no handler name: " + err.Error())
		return abi.HandleFailed
	}
	h, ok := handlers[name]
	if !ok {
		hostFail(unknownHandler(name))
		return abi.HandleFailed
	}
	if err := h(&Context{handler: name}); err != nil {
		if e, ok := err.(*Error); ok && e == lastExecErr {
			return abi.HandleFailed // the host passes the engine's error on
		}
		hostFail(err.Error())
		return abi.HandleFailed
	}
	return abi.HandleOK
}

func unknownHandler(name string) string {
	if len(handlers) == 0 {
		return fmt.Sprintf("handler %q: this module registers no handlers; call sdk.Register in an init function (a plugin's main never runs)", name)
	}
	names := make([]string, 0, len(handlers))
	for n := range handlers {
		names = append(names, n)
	}
	slices.Sort(names)
	return fmt.Sprintf("handler %q is not registered in this module; it has %s", name, strings.Join(names, ", "))
}

// scratch receives results that are parsed at once (scalars); it grows
// and is reused.
var scratch = make([]byte, 0, 512)

// fetch runs get(key) into scratch, valid until the next host call: one
// host call when the value fits, result_read after it when it does not.
func fetch(key string) ([]byte, error) {
	n := hostGet(key, scratch[:cap(scratch)])
	if n < 0 {
		return nil, errnoError("get "+key, n)
	}
	if int(n) <= cap(scratch) {
		return scratch[:n], nil
	}
	return readResult(n, true)
}

// readResult reads the pending result of n bytes, into scratch or a new
// buffer.
func readResult(n int32, useScratch bool) ([]byte, error) {
	var buf []byte
	if useScratch {
		if int(n) > cap(scratch) {
			scratch = make([]byte, 0, n)
		}
		buf = scratch[:n]
	} else {
		buf = make([]byte, n)
	}
	r := hostResultRead(buf)
	if r < 0 {
		return nil, errnoError("result_read", r)
	}
	if r != n {
		return nil, &Error{Code: "internal", Message: "result_read: the pending result changed size"}
	}
	return buf, nil
}

// get returns the value at key, copied.
func get(key string) (Value, error) {
	b, err := fetch(key)
	if err != nil {
		return nil, err
	}
	return Value(clone(b)), nil
}

func getString(key string) (string, error) {
	b, err := fetch(key)
	if err != nil {
		return "", err
	}
	return Value(b).AsString()
}

func getInt(key string) (int64, error) {
	b, err := fetch(key)
	if err != nil {
		return 0, err
	}
	return Value(b).AsInt()
}

func set(key string, v any) error {
	buf, err := appendJSON(nil, v)
	if err != nil {
		return &Error{Code: "invalid_value", Message: "set " + key + ": " + err.Error()}
	}
	if n := hostSet(key, buf); n < 0 {
		return errnoError("set "+key, n)
	}
	return nil
}

// Stage is where in the pipeline a handler runs; the numbers are
// Dataverse's.
type Stage int

// The stages.
const (
	PreValidation Stage = 10
	PreOperation  Stage = 20
	MainOperation Stage = 30
	PostOperation Stage = 40
)

// Context is the execution context of one call of a handler. Each getter
// asks the host for the one field it reads (sdk/ABI.md explains why), so a
// handler pays only for what it uses. A Context is valid during its call
// only.
type Context struct {
	handler string
}

// Handler returns the name of the running handler.
func (c *Context) Handler() string { return c.handler }

// Get returns the JSON value at a key path of the context (sdk/ABI.md,
// "Keys"), e.g. "input/Amount" or "pre_image/before/revenue".
func (c *Context) Get(key string) (Value, error) { return get(key) }

// Message returns the message's name: "Create", "Update", ... or a custom
// API's unique name.
func (c *Context) Message() string { s, _ := getString(abi.KeyMessage); return s }

// Table returns the table of a table message or a bound custom API, else "".
func (c *Context) Table() string { s, _ := getString(abi.KeyTable); return s }

// ID returns the id of the row the message is about, else "".
func (c *Context) ID() string { s, _ := getString(abi.KeyID); return s }

// Stage returns the stage the handler runs in.
func (c *Context) Stage() Stage { n, _ := getInt(abi.KeyStage); return Stage(n) }

// Mode returns "sync" or "async".
func (c *Context) Mode() string { s, _ := getString(abi.KeyMode); return s }

// Depth returns 1 for a message from outside, one more for each message a
// handler executed on the way here.
func (c *Context) Depth() int { n, _ := getInt(abi.KeyDepth); return int(n) }

// UserID returns the user the message runs as.
func (c *Context) UserID() string { s, _ := getString(abi.KeyUserID); return s }

// InitiatingUserID returns the user who started the chain of messages.
func (c *Context) InitiatingUserID() string {
	s, _ := getString(abi.KeyInitiatingUserID)
	return s
}

// CorrelationID returns the id that ties the messages of one business
// operation together.
func (c *Context) CorrelationID() string { s, _ := getString(abi.KeyCorrelationID); return s }

// RequestID returns the id of the request.
func (c *Context) RequestID() string { s, _ := getString(abi.KeyRequestID); return s }

// OperationTime returns the message's time. The guest's own clock
// (time.Now) reads the same instant: the host gives no other.
func (c *Context) OperationTime() time.Time {
	v, err := get(abi.KeyOperationTime)
	if err != nil {
		return time.Time{}
	}
	t, _ := v.AsTime()
	return t
}

// Step returns the running step's name; "" for a main operation.
func (c *Context) Step() string { s, _ := getString(abi.KeyStep); return s }

// Config returns the step's configuration, as registered.
func (c *Context) Config() string { s, _ := getString(abi.KeyConfig); return s }

// SecureConfig returns the step's secure configuration, as registered.
func (c *Context) SecureConfig() string { s, _ := getString(abi.KeySecureConfig); return s }

// Input returns a request parameter ("Target", a custom API's parameter).
func (c *Context) Input(name string) (Value, error) { return get(abi.KeyInput + "/" + name) }

// InputString reads a String parameter.
func (c *Context) InputString(name string) (string, error) {
	b, err := fetch(abi.KeyInput + "/" + name)
	if err != nil {
		return "", err
	}
	s, err := Value(b).AsString()
	return s, paramErr(name, err)
}

// InputInt reads an Integer or Picklist parameter.
func (c *Context) InputInt(name string) (int64, error) {
	b, err := fetch(abi.KeyInput + "/" + name)
	if err != nil {
		return 0, err
	}
	n, err := Value(b).AsInt()
	return n, paramErr(name, err)
}

// InputDecimal reads a Decimal or Money parameter, exactly.
func (c *Context) InputDecimal(name string) (Decimal, error) {
	b, err := fetch(abi.KeyInput + "/" + name)
	if err != nil {
		return "", err
	}
	d, err := Value(b).AsDecimal()
	return d, paramErr(name, err)
}

// InputBool reads a Boolean parameter.
func (c *Context) InputBool(name string) (bool, error) {
	b, err := fetch(abi.KeyInput + "/" + name)
	if err != nil {
		return false, err
	}
	v, err := Value(b).AsBool()
	return v, paramErr(name, err)
}

// InputGUID reads a Guid parameter.
func (c *Context) InputGUID(name string) (string, error) {
	b, err := fetch(abi.KeyInput + "/" + name)
	if err != nil {
		return "", err
	}
	s, err := Value(b).AsGUID()
	return s, paramErr(name, err)
}

// InputTime reads a DateTime parameter.
func (c *Context) InputTime(name string) (time.Time, error) {
	b, err := fetch(abi.KeyInput + "/" + name)
	if err != nil {
		return time.Time{}, err
	}
	t, err := Value(b).AsTime()
	return t, paramErr(name, err)
}

// InputReference reads an EntityReference parameter.
func (c *Context) InputReference(name string) (Reference, error) {
	b, err := fetch(abi.KeyInput + "/" + name)
	if err != nil {
		return Reference{}, err
	}
	r, err := Value(b).AsReference()
	return r, paramErr(name, err)
}

func paramErr(name string, err error) error {
	if err == nil {
		return nil
	}
	if e, ok := err.(*Error); ok {
		return &Error{Code: e.Code, Message: "parameter " + name + ": " + e.Message}
	}
	return fmt.Errorf("parameter %s: %w", name, err)
}

// Target returns the Target row of a Create or Update: the column values
// being written.
func (c *Context) Target() *Row { return &Row{path: abi.KeyTarget} }

// TargetReference returns the Target of a Retrieve, Delete, Assign or a
// table-bound custom API: the row the message is about.
func (c *Context) TargetReference() (Reference, error) {
	v, err := get(abi.KeyTarget)
	if err != nil {
		return Reference{}, err
	}
	return v.AsReference()
}

// SetTarget sets a column of the Target. Only PreValidation and
// PreOperation handlers may; the engine checks the value against the
// column after the handler returns.
func (c *Context) SetTarget(col string, v any) error { return set(abi.KeyTarget+"/"+col, v) }

// PreImage returns the named pre image: the row before the operation,
// with the columns the step registered.
func (c *Context) PreImage(name string) *Row { return &Row{path: abi.KeyPreImage + "/" + name} }

// PostImage returns the named post image: the row after the operation
// (PostOperation only).
func (c *Context) PostImage(name string) *Row { return &Row{path: abi.KeyPostImage + "/" + name} }

// Shared returns a shared variable: a value an earlier step of the same
// message set.
func (c *Context) Shared(key string) (Value, error) { return get(abi.KeyShared + "/" + key) }

// SetShared sets a shared variable for the steps after this one.
func (c *Context) SetShared(key string, v any) error { return set(abi.KeyShared+"/"+key, v) }

// Output returns an output parameter set so far.
func (c *Context) Output(key string) (Value, error) { return get(abi.KeyOutput + "/" + key) }

// SetOutput sets an output parameter: a custom API's response property.
func (c *Context) SetOutput(key string, v any) error { return set(abi.KeyOutput+"/"+key, v) }

// Trace writes a line to the plugin trace log, kept with the step, the
// correlation id and the time. The host caps lines and bytes per call.
func (c *Context) Trace(format string, args ...any) {
	hostTrace(fmt.Sprintf(format, args...))
}

// Service returns the organization service: messages executed through it
// run the whole pipeline, in the same transaction, one level deeper.
func (c *Context) Service() *Service { return &Service{} }
