package expression

import (
	"fmt"
	"reflect"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is the kind of a [Type]. The zero Kind is no kind: [NewEnv] refuses
// it, so an unset Type is caught.
type Kind int

// The kinds. Int is a Go int, Float a float64 (decimals and money are
// Floats), Time a time.Time, Duration a time.Duration; Object is a struct
// whose fields are known, List a slice, Map a map with string keys; Any is
// checked only at run time.
const (
	String Kind = iota + 1
	Int
	Float
	Bool
	Time
	Duration
	Object
	List
	Map
	Any
)

var kindNames = [...]string{"", "string", "int", "float", "bool", "time", "duration", "object", "list", "map", "any"}

// String returns the kind's name as messages show it: "string", "int", ...
func (k Kind) String() string {
	if k > 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Type is the type of a variable, a field or an expression's result.
type Type struct {
	Kind   Kind
	Fields []Field // Object: in order; names are JSON keys
	Elem   *Type   // List and Map elements; nil means Any
}

// Field is a named, typed part of an Object, or a variable of an [Env].
type Field struct {
	Name string
	Type Type
}

// String renders the type as messages show it: string, []int,
// map[string]any, {Amount: float, Currency: string}.
func (t Type) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t Type) write(b *strings.Builder) {
	switch t.Kind {
	case List:
		b.WriteString("[]")
		t.elem().write(b)
	case Map:
		b.WriteString("map[string]")
		t.elem().write(b)
	case Object:
		b.WriteByte('{')
		for i, f := range t.Fields {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(f.Name)
			b.WriteString(": ")
			f.Type.write(b)
		}
		b.WriteByte('}')
	default:
		b.WriteString(t.Kind.String())
	}
}

func (t Type) elem() Type {
	if t.Elem == nil {
		return Type{Kind: Any}
	}
	return *t.Elem
}

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
	anyType      = reflect.TypeFor[any]()
)

// keywords cannot name a variable or a field: the parser reads them as
// operators or literals.
var keywords = map[string]bool{
	"not": true, "in": true, "or": true, "and": true, "matches": true, "contains": true,
	"startsWith": true, "endsWith": true, "let": true, "if": true, "else": true,
	"true": true, "false": true, "nil": true,
}

// ValidIdent reports whether s is an identifier an expression can write:
// ASCII letters, digits and underscores, not starting with a digit, not a
// keyword.
func ValidIdent(s string) bool {
	if s == "" || len(s) > 256 || keywords[s] || !utf8.ValidString(s) {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

// builder turns Types into Go types and remembers, for messages and
// results, which Type each struct type stands for.
type builder struct {
	structs map[reflect.Type]Type
}

func (b *builder) goType(t Type, path string) (reflect.Type, error) {
	switch t.Kind {
	case String:
		return reflect.TypeFor[string](), nil
	case Int:
		return reflect.TypeFor[int](), nil
	case Float:
		return reflect.TypeFor[float64](), nil
	case Bool:
		return reflect.TypeFor[bool](), nil
	case Time:
		return timeType, nil
	case Duration:
		return durationType, nil
	case Any:
		return anyType, nil
	case List, Map:
		et, err := b.goType(t.elem(), path+"[]")
		if err != nil {
			return nil, err
		}
		if t.Kind == List {
			return reflect.SliceOf(et), nil
		}
		return reflect.MapOf(reflect.TypeFor[string](), et), nil
	case Object:
		fs, err := b.fields(t.Fields, path)
		if err != nil {
			return nil, err
		}
		st := reflect.StructOf(fs)
		if _, ok := b.structs[st]; !ok {
			b.structs[st] = t
		}
		return st, nil
	}
	return nil, fmt.Errorf("%s: no kind set (kind %d)", path, int(t.Kind))
}

// fields makes the struct fields F0, F1... tagged with the names, so that
// names which are not Go identifiers (or not exported ones) can be used.
func (b *builder) fields(fs []Field, path string) ([]reflect.StructField, error) {
	out := make([]reflect.StructField, 0, len(fs))
	seen := make(map[string]bool, len(fs))
	for i, f := range fs {
		p := f.Name
		if path != "" {
			p = path + "." + f.Name
		}
		if !ValidIdent(f.Name) {
			return nil, fmt.Errorf("%s: %q is not a name an expression can use: letters, digits and underscores, not starting with a digit, not a keyword", pathOr(path), f.Name)
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("%s: the name is used twice", p)
		}
		seen[f.Name] = true
		gt, err := b.goType(f.Type, p)
		if err != nil {
			return nil, err
		}
		out = append(out, reflect.StructField{
			Name: fmt.Sprintf("F%d", i),
			Type: gt,
			Tag:  reflect.StructTag(fmt.Sprintf(`expr:%q json:%q`, f.Name, f.Name)),
		})
	}
	return out, nil
}

func pathOr(p string) string {
	if p == "" {
		return "environment"
	}
	return p
}

// typeOf maps a Go type the checker inferred back to a Type.
func (b *builder) typeOf(rt reflect.Type) Type {
	if rt == nil {
		return Type{Kind: Any}
	}
	switch rt {
	case timeType:
		return Type{Kind: Time}
	case durationType:
		return Type{Kind: Duration}
	}
	switch rt.Kind() {
	case reflect.String:
		return Type{Kind: String}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return Type{Kind: Int}
	case reflect.Float32, reflect.Float64:
		return Type{Kind: Float}
	case reflect.Bool:
		return Type{Kind: Bool}
	case reflect.Slice, reflect.Array:
		e := b.typeOf(rt.Elem())
		return Type{Kind: List, Elem: &e}
	case reflect.Map:
		if rt.Key().Kind() != reflect.String {
			return Type{Kind: Any}
		}
		e := b.typeOf(rt.Elem())
		return Type{Kind: Map, Elem: &e}
	case reflect.Struct:
		if t, ok := b.structs[rt]; ok {
			return t
		}
	case reflect.Pointer:
		return b.typeOf(rt.Elem())
	}
	return Type{Kind: Any}
}
