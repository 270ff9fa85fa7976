package solution

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/bizevents/bizevents/schemas"
)

// validator checks documents against the embedded JSON Schemas and words
// their errors for people.
type validator struct {
	manifest, file *jsonschema.Schema
	// docs are the schema documents by URL, to list a mapping's allowed
	// keys when a key is unknown.
	docs    map[string]any
	printer *message.Printer
}

func newValidator() (*validator, error) {
	v := &validator{docs: map[string]any{}, printer: message.NewPrinter(language.English)}
	c := jsonschema.NewCompiler()
	for _, name := range []string{schemas.Solution, schemas.SolutionFile, schemas.Flow} {
		data, err := fs.ReadFile(schemas.FS(), name)
		if err != nil {
			return nil, fmt.Errorf("read schema %s: %w", name, err)
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("parse schema %s: %w", name, err)
		}
		if err := c.AddResource(schemas.BaseURL+name, doc); err != nil {
			return nil, fmt.Errorf("add schema %s: %w", name, err)
		}
		v.docs[schemas.BaseURL+name] = doc
	}
	var err error
	if v.manifest, err = c.Compile(schemas.BaseURL + schemas.Solution); err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", schemas.Solution, err)
	}
	if v.file, err = c.Compile(schemas.BaseURL + schemas.SolutionFile); err != nil {
		return nil, fmt.Errorf("compile schema %s: %w", schemas.SolutionFile, err)
	}
	return v, nil
}

// schemaProblem is one leaf error of a validation, worded and placed.
type schemaProblem struct {
	loc []string // the JSON pointer tokens of the value
	at  origin
	msg string
}

// validate checks value, the content of root, against sch and returns its
// problems.
func (v *validator) validate(sch *jsonschema.Schema, file string, root *yaml.Node, value any) []schemaProblem {
	err := sch.Validate(value)
	if err == nil {
		return nil
	}
	top := origin{file: file, node: root}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return []schemaProblem{{at: top, msg: err.Error()}}
	}
	var out []schemaProblem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, v.word(e, top)...)
	}
	walk(ve)
	return out
}

// word turns a leaf validation error into problems: where the value is in
// the file, and what is wrong with it, prefixed by the definitions it is
// in ("table account: column revenue: ...").
func (v *validator) word(e *jsonschema.ValidationError, top origin) []schemaProblem {
	loc := e.InstanceLocation
	at := top.at(loc...)
	ctx, prop := locationWords(resolve(top.node), loc)
	one := func(format string, args ...any) []schemaProblem {
		return []schemaProblem{{loc: loc, at: at, msg: ctx + fmt.Sprintf(format, args...)}}
	}
	field := ""
	if prop != "" {
		field = prop + ": "
	}
	switch k := e.ErrorKind.(type) {
	case *kind.AdditionalProperties:
		var out []schemaProblem
		allowed := v.properties(e.SchemaURL)
		for _, p := range k.Properties {
			msg := fmt.Sprintf("%sunknown key %q", ctx, p)
			if len(allowed) > 0 {
				msg += " (want one of " + strings.Join(allowed, ", ") + ")"
			}
			out = append(out, schemaProblem{loc: append(slices.Clone(loc), p), at: at.key(p), msg: msg})
		}
		return out
	case *kind.Required:
		quoted := make([]string, len(k.Missing))
		for i, m := range k.Missing {
			quoted[i] = strconv.Quote(m)
		}
		if len(quoted) == 1 {
			return one("%smissing key %s", field, quoted[0])
		}
		return one("%smissing keys %s", field, strings.Join(quoted, ", "))
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = fmt.Sprint(w)
		}
		return one("unknown %s %s (want one of %s)", orDefault(prop, "value"), display(at.node), strings.Join(want, ", "))
	case *kind.Type:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = typeWords(w)
		}
		if field == "" && len(loc) == 0 {
			field = "top level: "
		}
		got := typeWords(k.Got)
		if n := resolve(at.node); n != nil && n.Kind == yaml.ScalarNode && k.Got != "null" {
			got += " " + display(n)
		}
		return one("%swant %s, got %s", field, strings.Join(want, " or "), got)
	case *kind.Pattern:
		return one("%s %s must be %s", orDefault(prop, "value"), display(at.node), describePattern(k.Want))
	case *kind.MaxProperties:
		if len(loc) == 0 {
			return one("a file holds one kind of definition, and this one has %s: move each to a file of its own", strings.Join(keys(at.node), " and "))
		}
	case *kind.MinProperties:
		if len(loc) == 0 {
			return one("want one top-level key: %s", strings.Join(v.properties(e.SchemaURL), ", "))
		}
	}
	return one("%s%s", field, e.ErrorKind.LocalizedString(v.printer))
}

// properties lists the keys the schema at url allows, sorted.
func (v *validator) properties(url string) []string {
	base, frag, _ := strings.Cut(url, "#")
	var node any = v.docs[base]
	for tok := range strings.SplitSeq(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		obj, _ := node.(map[string]any)
		node = obj[strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")]
	}
	obj, _ := node.(map[string]any)
	props, _ := obj["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// locationWords names the definitions that the value at loc is in, as a message
// prefix ("table account: column revenue: "), and the key path of the
// value within the innermost one ("maxLength", "filteringColumns[1]").
func locationWords(root *yaml.Node, loc []string) (ctx, prop string) {
	n := root
	var props []string
	for i := 0; i < len(loc); i++ {
		tok := loc[i]
		next := child(n, tok)
		if what, nameKey, ok := label(tok); ok && i+1 < len(loc) && next != nil && next.Kind == yaml.SequenceNode {
			el := child(next, loc[i+1])
			name := "#" + loc[i+1]
			if idx, err := strconv.Atoi(loc[i+1]); err == nil {
				name = "#" + strconv.Itoa(idx+1)
			}
			if nameKey == "" {
				// An assignment is named by its item: "assignment table contact".
				for _, k := range []string{"table", "customApi", "flow"} {
					if _, v := mapEntry(el, k); v != nil {
						if v = resolve(v); v.Kind == yaml.ScalarNode && v.Value != "" {
							name = labelWords(k) + " " + v.Value
							break
						}
					}
				}
			} else if _, v := mapEntry(el, nameKey); v != nil {
				if v = resolve(v); v.Kind == yaml.ScalarNode && v.Value != "" {
					name = v.Value
				}
			}
			ctx += what + " " + name + ": "
			props = nil
			n = el
			i++
			continue
		}
		if n != nil && n.Kind == yaml.SequenceNode && len(props) > 0 {
			props[len(props)-1] += "[" + tok + "]"
		} else {
			props = append(props, tok)
		}
		n = next
	}
	return ctx, strings.Join(props, ".")
}

// labelWords names an assignment's item key in messages.
func labelWords(key string) string {
	if key == "customApi" {
		return "custom API"
	}
	return key
}

// label tells what the items of the list under key are called in messages
// and which of their keys names them; "" for an assignment, named by its
// item.
func label(key string) (what, nameKey string, ok bool) {
	switch key {
	case "tables":
		return "table", "logicalName", true
	case "columns":
		return "column", "logicalName", true
	case "options":
		return "option", "value", true
	case "customApis":
		return "custom API", "uniqueName", true
	case "requestParameters":
		return "request parameter", "uniqueName", true
	case "responseProperties":
		return "response property", "uniqueName", true
	case "steps":
		return "step", "name", true
	case "plugins":
		return "plugin", "name", true
	case "endpoints":
		return "endpoint", "name", true
	case "inputs":
		return "input", "name", true
	case "catalogs":
		return "catalog", "uniqueName", true
	case "categories":
		return "category", "uniqueName", true
	case "assignments":
		return "assignment", "", true
	case "preImages":
		return "pre image", "name", true
	case "postImages":
		return "post image", "name", true
	}
	return "", "", false
}

// typeWords names a JSON type as YAML users know it.
func typeWords(t string) string {
	switch t {
	case "object":
		return "a mapping"
	case "array":
		return "a list"
	case "integer":
		return "an integer"
	case "null":
		return "nothing (null)"
	}
	return "a " + t
}

// describePattern words the patterns of the schemas.
func describePattern(p string) string {
	switch p {
	case "^[a-z][a-z0-9_]{0,63}$":
		return "lower case letters, digits and underscores, starting with a letter, at most 64 characters"
	case "^[A-Za-z][A-Za-z0-9_]{0,127}$":
		return "letters, digits and underscores, starting with a letter, at most 128 characters"
	case versionPattern.String():
		return "two to four dot-separated numbers, optionally with -prerelease and +build parts, like 1.0.0"
	}
	return "matching " + p
}

// display shows a scalar value as it was written: quoted unless it is a
// number, a boolean or null.
func display(n *yaml.Node) string {
	n = resolve(n)
	if n == nil {
		return "null"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "(a mapping)"
	case yaml.SequenceNode:
		return "(a list)"
	}
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool", "!!null":
		return n.Value
	}
	return strconv.Quote(n.Value)
}

// keys lists a mapping's keys in file order.
func keys(n *yaml.Node) []string {
	n = resolve(n)
	var ks []string
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		ks = append(ks, n.Content[i].Value)
	}
	return ks
}

// orDefault returns s, or def when s is empty.
func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
