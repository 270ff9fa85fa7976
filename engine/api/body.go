package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/tables"
)

// readBody reads a request body of at most MaxBodyBytes.
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	tooLarge := errorf(errcode.RequestTooLarge, "the request body is larger than %d bytes", h.cfg.MaxBodyBytes)
	if r.ContentLength > h.cfg.MaxBodyBytes {
		return nil, tooLarge
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.cfg.MaxBodyBytes))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge
		}
		return nil, fmt.Errorf("read the request body: %w", err)
	}
	return b, nil
}

// readObject reads a JSON object body: an empty body is an empty object.
// Numbers stay json.Number, so no precision is lost before the engine
// checks them against their column.
func (h *Handler) readObject(w http.ResponseWriter, r *http.Request) (map[string]any, error) {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" {
			return nil, errorf(errcode.InvalidArgument, "content type %q is not supported; send application/json", ct)
		}
	}
	b, err := h.readBody(w, r)
	if err != nil {
		return nil, err
	}
	return decodeObject(b)
}

// decodeObject decodes a JSON object, refusing invalid UTF-8 (which
// encoding/json would silently replace), a value that is not an object, a
// name given twice, and anything after the object.
//
// Why two paths: decoding token by token, which finds a name given twice,
// costs three times a plain decode. So the plain decode runs first, and the
// names of the top level are counted in one pass over the bytes; only when
// the count and the decoded object disagree does the slow path run, to name
// the duplicate.
func decodeObject(b []byte) (map[string]any, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return map[string]any{}, nil
	}
	if !utf8.Valid(b) {
		return nil, errorf(errcode.InvalidArgument, "the body is not valid UTF-8")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errorf(errcode.InvalidArgument, "the body is not valid JSON: %s", err.Error())
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, errorf(errcode.InvalidArgument, "the body must be a JSON object")
	}
	if len(bytes.TrimSpace(b[dec.InputOffset():])) > 0 {
		return nil, errorf(errcode.InvalidArgument, "the body has data after the JSON object")
	}
	if topLevelNames(b) == len(obj) {
		return obj, nil
	}
	return decodeObjectByToken(b)
}

// topLevelNames counts the names of the JSON object in b (valid JSON): the
// colons outside strings at depth one.
func topLevelNames(b []byte) int {
	n, depth, inString, escaped := 0, 0, false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
		case c == ':' && depth == 1:
			n++
		}
	}
	return n
}

// decodeObjectByToken is decodeObject's slow path, which names a name
// given twice.
func decodeObjectByToken(b []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	malformed := func(err error) error {
		return errorf(errcode.InvalidArgument, "the body is not valid JSON: %s", err.Error())
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, malformed(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, errorf(errcode.InvalidArgument, "the body must be a JSON object")
	}
	obj := map[string]any{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, malformed(err)
		}
		name, _ := tok.(string)
		if _, dup := obj[name]; dup {
			return nil, errorf(errcode.InvalidArgument, "the body names %q twice", name)
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, malformed(err)
		}
		obj[name] = v
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, malformed(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errorf(errcode.InvalidArgument, "the body has data after the JSON object")
	}
	return obj, nil
}

// Suffixes and names of the body's OData annotations.
const (
	bindSuffix    = "@odata.bind"
	ownerBind     = tables.ColumnOwnerID + bindSuffix
	systemUserSet = "systemusers"
	systemUser    = "systemuser"
)

// values turns a Create or Update body into the Target's column values (and
// an action's body into its parameters):
// "<column>@odata.bind": "/<entity set>(<id>)" becomes the lookup value
// {"table": <logical name>, "id": <id>}, the owner's binding
// "/systemusers(<id>)" becomes {"table": "systemuser", "id": <id>}, and
// other annotations ("@odata.type", "<column>@OData.Community...") are
// dropped, as OData lets a service ignore them.
func (h *Handler) values(body map[string]any) (tables.Row, error) {
	target := make(tables.Row, len(body))
	var errs []string
	for name, v := range body {
		col, isBind := strings.CutSuffix(name, bindSuffix)
		switch {
		case isBind:
			if col == "" || strings.Contains(col, "@") {
				errs = append(errs, fmt.Sprintf("%q is not <column>@odata.bind", name))
				continue
			}
			if _, both := body[col]; both {
				errs = append(errs, fmt.Sprintf("column %s is given both as a value and as %s", col, name))
				continue
			}
			ref, err := h.bindTarget(col, v)
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			target[col] = ref
		case strings.Contains(name, "@"):
			// An instance or property annotation: ignored.
		default:
			target[name] = v
		}
	}
	if len(errs) > 0 {
		return nil, errorf(errcode.InvalidValue, "%s", strings.Join(errs, "; "))
	}
	return target, nil
}

// bindTarget resolves an @odata.bind value, "/<entity set>(<id>)",
// "<entity set>(<id>)" or the same as an absolute URL, to a lookup value.
func (h *Handler) bindTarget(col string, v any) (map[string]any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, fmt.Errorf("%s%s must be a string \"/<entity set>(<id>)\"", col, bindSuffix)
	}
	set, id, err := h.parseBind(s)
	if err != nil {
		return nil, fmt.Errorf("%s%s: %w", col, bindSuffix, err)
	}
	if set == systemUserSet {
		return map[string]any{"table": systemUser, "id": id.String()}, nil
	}
	t, ok := h.deps.Metadata.TableByPlural(set)
	if !ok {
		return nil, fmt.Errorf("%s%s: no table has entity set %q", col, bindSuffix, set)
	}
	return map[string]any{"table": t.LogicalName, "id": id.String()}, nil
}

// parseBind splits an @odata.bind value into its entity set and id.
func (h *Handler) parseBind(s string) (string, uuid.UUID, error) {
	p := s
	if u, err := url.Parse(s); err == nil && u.IsAbs() {
		p = u.Path
	}
	if i := strings.Index(p, h.cfg.BasePath+"/"); i >= 0 {
		p = p[i+len(h.cfg.BasePath):]
	}
	p = strings.TrimPrefix(p, "/")
	seg, err := parseSegment(p)
	if err != nil || !seg.parens || strings.Contains(seg.name, "/") {
		return "", uuid.Nil, fmt.Errorf("%q is not \"/<entity set>(<id>)\"", s)
	}
	id, err := parseGUID(seg.inner)
	if err != nil {
		return "", uuid.Nil, fmt.Errorf("%q: the key is not a GUID", s)
	}
	return seg.name, id, nil
}
