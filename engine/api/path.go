package api

import (
	"bytes"
	"encoding/json"
	"io"
	"net/url"
	"regexp"
	"strings"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
)

// crmNamespace prefixes a bound operation's name in a path.
const crmNamespace = "Microsoft.Dynamics.CRM."

// segment is one path segment: a name and, when it has parentheses, what
// is inside them (a key, or a function's parameters).
type segment struct {
	name   string
	parens bool
	inner  string
}

// resource is a parsed Web API path below the base path.
type resource struct {
	head segment // an entity set, a custom API, or WhoAmI
	// op is a bound operation, "/Microsoft.Dynamics.CRM.<name>"; its name
	// is without the namespace. Empty name: none.
	op segment
}

// parsePath parses the escaped path below the base path, e.g.
// "accounts(1f9e...)/Microsoft.Dynamics.CRM.contoso_Close". Splitting the
// escaped form keeps an encoded "/" inside a literal.
func parsePath(escaped string) (resource, error) {
	escaped = strings.TrimPrefix(escaped, "/")
	escaped = strings.TrimSuffix(escaped, "/")
	if escaped == "" {
		return resource{}, errorf(errcode.NotSupported, "the service document is not supported; address an entity set or a custom API")
	}
	raw := strings.Split(escaped, "/")
	segs := make([]segment, len(raw))
	for i, s := range raw {
		u, err := url.PathUnescape(s)
		if err != nil {
			return resource{}, errorf(errcode.InvalidArgument, "path segment %q is not validly escaped", s)
		}
		if segs[i], err = parseSegment(u); err != nil {
			return resource{}, err
		}
	}
	res := resource{head: segs[0]}
	if strings.HasPrefix(res.head.name, "$") {
		return resource{}, errorf(errcode.NotSupported, "%s is not supported", res.head.name)
	}
	switch {
	case len(segs) == 1:
	case len(segs) == 2 && strings.HasPrefix(segs[1].name, crmNamespace):
		res.op = segs[1]
		res.op.name = strings.TrimPrefix(segs[1].name, crmNamespace)
	default:
		return resource{}, errorf(errcode.NotSupported,
			"path %q is not supported: navigation, properties, $ref and $count are not; bound operations are /<entity set>[(<id>)]/%s<name>", "/"+escaped, crmNamespace)
	}
	return res, nil
}

func parseSegment(s string) (segment, error) {
	i := strings.IndexByte(s, '(')
	if i < 0 {
		return segment{name: s}, nil
	}
	if i == 0 || !strings.HasSuffix(s, ")") {
		return segment{}, errorf(errcode.InvalidArgument, "path segment %q is malformed: want name or name(...)", s)
	}
	return segment{name: s[:i], parens: true, inner: s[i+1 : len(s)-1]}, nil
}

// parseKey parses an entity key: "<guid>" or "<primary key>=<guid>".
func parseKey(inner, primaryKey string) (uuid.UUID, error) {
	v := inner
	if name, val, ok := strings.Cut(inner, "="); ok {
		if strings.TrimSpace(name) != primaryKey {
			return uuid.Nil, errorf(errcode.NotSupported, "key %q: alternate keys are not supported; use the row's id", inner)
		}
		v = strings.TrimSpace(val)
	}
	id, err := parseGUID(v)
	if err != nil {
		return uuid.Nil, errorf(errcode.InvalidArgument, "key %q is not a GUID", inner)
	}
	return id, nil
}

// parseGUID accepts only the 36-character form.
func parseGUID(s string) (uuid.UUID, error) {
	if len(s) != 36 {
		return uuid.Nil, errorf(errcode.InvalidArgument, "%q is not a GUID", s)
	}
	return uuid.Parse(s)
}

// functionParams parses a function's parameters: those in parentheses,
// "Name(P1=@a,P2=3)", with aliases resolved from the query ("?@a='x'"),
// and plain query parameters ("?P3='y'"). Values are OData literals;
// they come back as the JSON values they stand for.
func functionParams(inner string, query url.Values) (map[string]any, error) {
	params := map[string]any{}
	set := func(name string, lit string) error {
		if !paramName.MatchString(name) {
			return errorf(errcode.InvalidArgument, "%q is not a parameter name", name)
		}
		if _, dup := params[name]; dup {
			return errorf(errcode.InvalidArgument, "parameter %s is given twice", name)
		}
		if strings.HasPrefix(lit, "@") {
			vals, ok := query[lit]
			if !ok {
				return errorf(errcode.InvalidArgument, "parameter %s refers to alias %s, which the query does not define", name, lit)
			}
			if len(vals) != 1 {
				return errorf(errcode.InvalidArgument, "alias %s is given %d times", lit, len(vals))
			}
			lit = vals[0]
		}
		v, err := parseLiteral(lit)
		if err != nil {
			return errorf(errcode.InvalidArgument, "parameter %s: %s", name, err.Error())
		}
		params[name] = v
		return nil
	}
	if strings.TrimSpace(inner) != "" {
		for _, part := range splitTopLevel(inner) {
			name, lit, ok := strings.Cut(part, "=")
			if !ok {
				return nil, errorf(errcode.InvalidArgument, "function parameter %q must be Name=value", part)
			}
			if err := set(strings.TrimSpace(name), strings.TrimSpace(lit)); err != nil {
				return nil, err
			}
		}
	}
	for name, vals := range query {
		switch {
		case strings.HasPrefix(name, "@"):
			continue // an alias
		case strings.HasPrefix(name, "$"):
			return nil, errorf(errcode.NotSupported, "query option %s does not apply to a function", name)
		case len(vals) != 1:
			return nil, errorf(errcode.InvalidArgument, "parameter %s is given %d times", name, len(vals))
		}
		if err := set(name, vals[0]); err != nil {
			return nil, err
		}
	}
	return params, nil
}

var paramName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// splitTopLevel splits s at commas outside quotes, brackets and braces.
func splitTopLevel(s string) []string {
	var (
		parts      []string
		depth      int
		start      int
		inSingle   bool // an OData 'string'
		inDouble   bool // a JSON "string" inside [] or {}
		escapeNext bool
	)
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case inDouble:
			switch {
			case escapeNext:
				escapeNext = false
			case ch == '\\':
				escapeNext = true
			case ch == '"':
				inDouble = false
			}
		case inSingle:
			if ch == '\'' {
				inSingle = false // a doubled '' reopens at once
			}
		case ch == '\'':
			inSingle = true
		case ch == '"' && depth > 0:
			inDouble = true
		case ch == '[' || ch == '{' || ch == '(':
			depth++
		case ch == ']' || ch == '}' || ch == ')':
			depth--
		case ch == ',' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

var (
	literalNumber   = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$`)
	literalGUID     = regexp.MustCompile(`^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$`)
	literalDateTime = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2}))?$`)
)

// literalError is a value that is not an OData literal.
type literalError struct{ msg string }

func (e *literalError) Error() string { return e.msg }

// parseLiteral turns an OData literal into the JSON value it stands for:
// null, true, false, a 'string' (quotes inside doubled) as a string, a number as
// a json.Number, a GUID or a date and time as a string, and a JSON array or
// object (collections and entities) as decoded JSON.
func parseLiteral(s string) (any, error) {
	switch {
	case s == "null":
		return nil, nil
	case s == "true":
		return true, nil
	case s == "false":
		return false, nil
	case strings.HasPrefix(s, "'"):
		if len(s) < 2 || !strings.HasSuffix(s, "'") {
			return nil, &literalError{"unterminated string literal " + s}
		}
		body := s[1 : len(s)-1]
		if strings.Contains(strings.ReplaceAll(body, "''", ""), "'") {
			return nil, &literalError{"a quote inside a string literal must be doubled: " + s}
		}
		return strings.ReplaceAll(body, "''", "'"), nil
	case strings.HasPrefix(s, "[") || strings.HasPrefix(s, "{"):
		dec := json.NewDecoder(strings.NewReader(s))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, &literalError{"malformed JSON in " + s}
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, &literalError{"trailing data after JSON in " + s}
		}
		return v, nil
	case literalNumber.MatchString(s):
		return json.Number(s), nil
	case literalGUID.MatchString(s):
		return strings.ToLower(s), nil
	case literalDateTime.MatchString(s):
		return s, nil
	}
	return nil, &literalError{"not an OData literal: " + quoteShort(s) + " (strings need single quotes)"}
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	b, _ := json.Marshal(s)
	return string(bytes.TrimSpace(b))
}
