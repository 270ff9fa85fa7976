package plugins

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
	"github.com/bizevents/bizevents/sdk/go/abi"
)

// This file maps the key paths of sdk/ABI.md ("Keys") onto a
// pipeline.Execution: get renders the value at a path, set changes one.

// appendKey appends the JSON value at key to dst.
func (c *call) appendKey(dst []byte, key string) ([]byte, abi.Errno) {
	root, rest, deep := strings.Cut(key, "/")
	if deep && rest == "" {
		return dst, abi.ErrInvalidKey
	}
	ex := c.ex
	scalar := func(v any) ([]byte, abi.Errno) {
		if deep {
			return dst, abi.ErrNotFound
		}
		return appendValue(dst, v), 0
	}
	switch root {
	case abi.KeyHandler:
		return scalar(c.handler)
	case abi.KeyMessage:
		return scalar(ex.Message)
	case abi.KeyTable:
		return scalar(ex.Table)
	case abi.KeyID:
		return scalar(ex.ID)
	case abi.KeyStage:
		return scalar(int64(ex.Stage))
	case abi.KeyMode:
		return scalar(string(ex.Mode))
	case abi.KeyDepth:
		return scalar(int64(ex.Depth))
	case abi.KeyUserID:
		return scalar(ex.UserID)
	case abi.KeyInitiatingUserID:
		return scalar(ex.InitiatingUserID)
	case abi.KeyCorrelationID:
		return scalar(ex.CorrelationID)
	case abi.KeyRequestID:
		return scalar(ex.RequestID)
	case abi.KeyOperationTime:
		return scalar(ex.OperationTime)
	case abi.KeyStep:
		return scalar(ex.Step)
	case abi.KeyConfig:
		return scalar(ex.Config)
	case abi.KeySecureConfig:
		return scalar(ex.SecureConfig)
	case abi.KeyContext:
		if deep {
			return dst, abi.ErrNotFound
		}
		return c.appendContext(dst), 0
	case abi.KeyInput:
		return descendAppend(dst, ex.InputParameters, rest, deep)
	case abi.KeyTarget:
		t, ok := ex.InputParameters["Target"]
		if !ok {
			return dst, abi.ErrNotFound
		}
		return descendAppend(dst, t, rest, deep)
	case abi.KeyOutput:
		return descendAppend(dst, ex.OutputParameters, rest, deep)
	case abi.KeyShared:
		return descendAppend(dst, ex.SharedVariables, rest, deep)
	case abi.KeyPreImage:
		return descendAppend(dst, ex.PreImages, rest, deep)
	case abi.KeyPostImage:
		return descendAppend(dst, ex.PostImages, rest, deep)
	}
	return dst, abi.ErrInvalidKey
}

func descendAppend(dst []byte, v any, path string, deep bool) ([]byte, abi.Errno) {
	if deep {
		for _, seg := range strings.Split(path, "/") {
			if seg == "" {
				return dst, abi.ErrInvalidKey
			}
			var ok bool
			if v, ok = child(v, seg); !ok {
				return dst, abi.ErrNotFound
			}
		}
	}
	return appendValue(dst, v), 0
}

// child returns a member of a composite context value.
func child(v any, seg string) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		c, ok := x[seg]
		return c, ok
	case tables.Row:
		c, ok := x[seg]
		return c, ok
	case map[string]tables.Row:
		c, ok := x[seg]
		return c, ok
	case customapi.EntityValue:
		c, ok := x.Row[seg]
		return c, ok
	case tables.Reference:
		switch seg {
		case "table":
			return x.Table, true
		case "id":
			return x.ID, true
		}
	case []any:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) {
			return x[i], true
		}
	case []string:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) {
			return x[i], true
		}
	case []tables.Row:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) {
			return x[i], true
		}
	case []customapi.EntityValue:
		if i, err := strconv.Atoi(seg); err == nil && i >= 0 && i < len(x) {
			return x[i], true
		}
	}
	return nil, false
}

// appendContext appends the whole context document: the object whose
// paths the keys are.
func (c *call) appendContext(dst []byte) []byte {
	ex := c.ex
	doc := map[string]any{
		abi.KeyHandler:          c.handler,
		abi.KeyMessage:          ex.Message,
		abi.KeyTable:            ex.Table,
		abi.KeyID:               ex.ID,
		abi.KeyStage:            int64(ex.Stage),
		abi.KeyMode:             string(ex.Mode),
		abi.KeyDepth:            int64(ex.Depth),
		abi.KeyUserID:           ex.UserID,
		abi.KeyInitiatingUserID: ex.InitiatingUserID,
		abi.KeyCorrelationID:    ex.CorrelationID,
		abi.KeyRequestID:        ex.RequestID,
		abi.KeyOperationTime:    ex.OperationTime,
		abi.KeyStep:             ex.Step,
		abi.KeyConfig:           ex.Config,
		abi.KeySecureConfig:     ex.SecureConfig,
		abi.KeyInput:            nonNil(ex.InputParameters),
		abi.KeyOutput:           nonNil(ex.OutputParameters),
		abi.KeyShared:           nonNil(ex.SharedVariables),
		abi.KeyPreImage:         nonNilRows(ex.PreImages),
		abi.KeyPostImage:        nonNilRows(ex.PostImages),
	}
	if t, ok := ex.InputParameters["Target"]; ok {
		doc[abi.KeyTarget] = t
	}
	return appendMap(dst, doc)
}

func nonNil(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}

func nonNilRows(m map[string]tables.Row) map[string]tables.Row {
	if m == nil {
		return map[string]tables.Row{}
	}
	return m
}

// set writes the JSON value val at key.
func (c *call) set(key string, val []byte) (abi.Errno, string) {
	root, rest, deep := strings.Cut(key, "/")
	switch root {
	case abi.KeyTarget, abi.KeyOutput, abi.KeyShared:
	case abi.KeyHandler, abi.KeyMessage, abi.KeyTable, abi.KeyID, abi.KeyStage, abi.KeyMode, abi.KeyDepth,
		abi.KeyUserID, abi.KeyInitiatingUserID, abi.KeyCorrelationID, abi.KeyRequestID, abi.KeyOperationTime,
		abi.KeyStep, abi.KeyConfig, abi.KeySecureConfig, abi.KeyInput, abi.KeyPreImage, abi.KeyPostImage, abi.KeyContext:
		return abi.ErrNotAllowed, key + " is read-only"
	default:
		return abi.ErrInvalidKey, "unknown key " + key
	}
	if !deep || rest == "" || strings.Contains(rest, "/") {
		return abi.ErrInvalidKey, "set needs " + root + "/<name>"
	}
	v, err := decodeJSON(val)
	if err != nil {
		return abi.ErrInvalidValue, "set " + key + ": " + err.Error()
	}
	ex := c.ex
	switch root {
	case abi.KeyTarget:
		if ex.Stage != pipeline.PreValidation && ex.Stage != pipeline.PreOperation {
			return abi.ErrNotAllowed, "the Target can change in PreValidation and PreOperation only, not in " + ex.Stage.String()
		}
		row := ex.Target()
		if row == nil {
			return abi.ErrNotAllowed, "message " + ex.Message + " has no Target row to change"
		}
		row[rest] = v
	case abi.KeyOutput:
		if ex.OutputParameters == nil {
			ex.OutputParameters = map[string]any{}
		}
		ex.OutputParameters[rest] = v
	case abi.KeyShared:
		if ex.SharedVariables == nil {
			ex.SharedVariables = map[string]any{}
		}
		ex.SharedVariables[rest] = v
	}
	return 0, ""
}

// decodeJSON decodes one JSON value, numbers as json.Number.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the value")
	}
	return v, nil
}
