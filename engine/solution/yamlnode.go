package solution

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// origin is where a definition or a value came from: a node of a file. The
// zero origin is a definition decoded from JSON, which has no position.
type origin struct {
	file string
	node *yaml.Node
}

func (o origin) line() int {
	if o.node == nil {
		return 0
	}
	return o.node.Line
}

func (o origin) column() int {
	if o.node == nil {
		return 0
	}
	return o.node.Column
}

// String formats the origin as file:line:column, or line N when it has no
// file, for messages that point at a second place.
func (o origin) String() string {
	s := strconv.Itoa(o.line()) + ":" + strconv.Itoa(o.column())
	if o.file == "" {
		return "line " + s
	}
	return o.file + ":" + s
}

// at returns the origin of the value at path below o: mapping keys and
// sequence indexes. It stops at the deepest node that exists, so a problem
// about a missing or defaulted field points at its definition.
func (o origin) at(path ...string) origin {
	n := resolve(o.node)
	for _, step := range path {
		next := child(n, step)
		if next == nil {
			break
		}
		n = next
	}
	return origin{file: o.file, node: n}
}

// key returns the origin of the key k of the mapping at o, or o when there
// is none.
func (o origin) key(k string) origin {
	if kn, _ := mapEntry(resolve(o.node), k); kn != nil {
		return origin{file: o.file, node: kn}
	}
	return o
}

// item returns the origin of the nth (0-based) element of the sequence at
// path whose nameKey is name; o.at(path...) when there is none.
func (o origin) item(path []string, nameKey, name string, nth int) origin {
	seq := o.at(path...)
	n := resolve(seq.node)
	if n == nil || n.Kind != yaml.SequenceNode {
		return seq
	}
	var found *yaml.Node
	for _, el := range n.Content {
		if _, v := mapEntry(resolve(el), nameKey); v != nil && resolve(v).Value == name {
			found = el
			if nth == 0 {
				break
			}
			nth--
		}
	}
	if found == nil {
		return seq
	}
	return origin{file: o.file, node: resolve(found)}
}

// resolve follows aliases and unwraps a document to its content.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil {
		switch {
		case n.Kind == yaml.AliasNode && n.Alias != nil:
			n = n.Alias
		case n.Kind == yaml.DocumentNode && len(n.Content) > 0:
			n = n.Content[0]
		default:
			return n
		}
	}
	return nil
}

// child returns the value of a mapping's key or a sequence's element
// (step is its decimal index), or nil.
func child(n *yaml.Node, step string) *yaml.Node {
	switch {
	case n == nil:
		return nil
	case n.Kind == yaml.MappingNode:
		_, v := mapEntry(n, step)
		return resolve(v)
	case n.Kind == yaml.SequenceNode:
		i, err := strconv.Atoi(step)
		if err != nil || i < 0 || i >= len(n.Content) {
			return nil
		}
		return resolve(n.Content[i])
	}
	return nil
}

// mapEntry returns the first key node named k of a mapping and its value,
// looking into the mappings merged in with "<<" when k is not written.
func mapEntry(n *yaml.Node, k string) (key, value *yaml.Node) {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil, nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == k && !isMerge(n.Content[i]) {
			return n.Content[i], n.Content[i+1]
		}
	}
	for _, m := range merged(n) {
		if key, value := mapEntry(m, k); key != nil {
			return key, value
		}
	}
	return nil, nil
}

func isMerge(key *yaml.Node) bool { return key.Kind == yaml.ScalarNode && key.ShortTag() == "!!merge" }

// merged returns the mappings merged into n with "<<: *a" or
// "<<: [*a, *b]", in order of precedence.
func merged(n *yaml.Node) []*yaml.Node {
	var out []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		if !isMerge(n.Content[i]) {
			continue
		}
		switch v := resolve(n.Content[i+1]); {
		case v == nil:
		case v.Kind == yaml.MappingNode:
			out = append(out, v)
		case v.Kind == yaml.SequenceNode:
			for _, el := range v.Content {
				if el = resolve(el); el != nil && el.Kind == yaml.MappingNode {
					out = append(out, el)
				}
			}
		}
	}
	return out
}

// toValue converts a node to the values encoding/json would give for the
// same document (map[string]any, []any, string, bool, nil, and numbers as
// json.Number), which is what the JSON Schema validator checks. loc is the
// node's location; a mapping key written twice is reported to dup with the
// mapping's location, and the first one wins.
func toValue(n *yaml.Node, loc []string, dup func(loc []string, key, first *yaml.Node)) any {
	n = resolve(n)
	if n == nil {
		return nil
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		keys := make(map[string]*yaml.Node, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := resolve(n.Content[i])
			if isMerge(k) {
				continue
			}
			if first, ok := keys[k.Value]; ok {
				dup(loc, k, first)
				continue
			}
			keys[k.Value] = k
			m[k.Value] = toValue(n.Content[i+1], append(slices.Clip(loc), k.Value), dup)
		}
		// Keys merged in with "<<" come after the keys written, the
		// first merged mapping first, as YAML's merge keys define.
		for _, mm := range merged(n) {
			mv, _ := toValue(mm, loc, dup).(map[string]any)
			for k, v := range mv {
				if _, ok := m[k]; !ok {
					m[k] = v
				}
			}
		}
		return m
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, el := range n.Content {
			s[i] = toValue(el, append(slices.Clip(loc), strconv.Itoa(i)), dup)
		}
		return s
	case yaml.ScalarNode:
		return scalarValue(n)
	}
	return nil
}

func scalarValue(n *yaml.Node) any {
	switch n.ShortTag() {
	case "!!null":
		return nil
	case "!!bool":
		var b bool
		if n.Decode(&b) == nil {
			return b
		}
	case "!!int":
		var i int64
		if n.Decode(&i) == nil {
			return json.Number(strconv.FormatInt(i, 10))
		}
		var u uint64
		if n.Decode(&u) == nil {
			return json.Number(strconv.FormatUint(u, 10))
		}
	case "!!float":
		var f float64
		if n.Decode(&f) == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return json.Number(strconv.FormatFloat(f, 'g', -1, 64))
		}
	}
	// Strings, and what JSON has no value for (timestamps, binary,
	// infinities), are their text.
	return n.Value
}
