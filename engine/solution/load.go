package solution

import (
	"github.com/bizevents/bizevents/engine/flows"

	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/bizevents/bizevents/engine/pipeline"
)

// ManifestFile is the name of the file at the root of a solution folder
// that names the solution.
const ManifestFile = "solution.yaml"

// section is one kind of definition: the top-level key of the files that
// hold it. A new kind of definition (catalogs, flows, endpoints, roles) is
// a new entry here, a property and a $defs entry in
// schemas/solution-file.schema.json, a list in model and its checks.
type section struct {
	// key is the top-level key, e.g. tables.
	key string
	// nameKey is the key naming an item, e.g. logicalName.
	nameKey string
	// add decodes one item that passed the schema into the model.
	add func(m *model, n *yaml.Node, at origin) error
}

func sections() []section {
	return []section{
		{key: "tables", nameKey: "logicalName", add: adder(func(m *model) *[]item[TableDef] { return &m.tables })},
		{key: "customApis", nameKey: "uniqueName", add: adder(func(m *model) *[]item[CustomAPIDef] { return &m.apis })},
		{key: "steps", nameKey: "name", add: func(m *model, n *yaml.Node, at origin) error {
			numberStage(n)
			return adder(func(m *model) *[]item[StepDef] { return &m.steps })(m, n, at)
		}},
		{key: "plugins", nameKey: "name", add: adder(func(m *model) *[]item[PluginDef] { return &m.plugins })},
		{key: "catalogs", nameKey: "uniqueName", add: adder(func(m *model) *[]item[CatalogDef] { return &m.catalogs })},
		{key: "endpoints", nameKey: "name", add: adder(func(m *model) *[]item[EndpointDef] { return &m.endpoints })},
		{key: "inputs", nameKey: "name", add: adder(func(m *model) *[]item[InputDef] { return &m.inputs })},
		{key: "flows", nameKey: "name", add: adder(func(m *model) *[]item[flows.Def] { return &m.flows })},
	}
}

// adder returns a section's add function for items of type T.
func adder[T any](list func(*model) *[]item[T]) func(*model, *yaml.Node, origin) error {
	return func(m *model, n *yaml.Node, at origin) error {
		var def T
		if err := n.Decode(&def); err != nil {
			return err
		}
		l := list(m)
		*l = append(*l, item[T]{def: def, at: at})
		return nil
	}
}

// numberStage replaces a step's named stage by its number.
func numberStage(step *yaml.Node) {
	_, v := mapEntry(step, "stage")
	if v = resolve(v); v == nil || v.Kind != yaml.ScalarNode {
		return
	}
	for _, s := range []pipeline.Stage{pipeline.PreValidation, pipeline.PreOperation, pipeline.PostOperation} {
		if v.Value == s.String() {
			v.Value, v.Tag, v.Style = strconv.Itoa(int(s)), "!!int", 0
		}
	}
}

// Load reads the solution in the folder dir: solution.yaml and every other
// *.yaml (or *.yml) file below dir, at any depth, skipping files and
// folders whose names start with a dot. Each file is checked against its
// JSON Schema (package schemas), then the definitions are checked together:
// each one's Validate, names defined twice, references to unknown tables,
// messages or custom APIs, steps that their custom API does not allow,
// filtering and image columns that their table does not have, catalog
// assignments of items the solution does not have or that cannot be
// catalogued.
//
// Every problem found is returned at once in an *[Error], with the file,
// line and column it is about; its code is invalid_solution. When a file is
// not valid YAML the checks across definitions are skipped, since what the
// file defines is unknown.
func Load(dir string) (*Solution, error) {
	v, err := newValidator()
	if err != nil {
		return nil, fmt.Errorf("load solution: %w", err)
	}
	l := &loader{dir: dir, v: v}
	return l.load()
}

// loader is the state of one Load.
type loader struct {
	dir string
	v   *validator
	ps  problems
	m   model
	// incomplete is set when a file could not be read or parsed.
	incomplete bool
}

func (l *loader) load() (*Solution, error) {
	info, err := os.Stat(l.dir)
	if err != nil {
		l.ps.add(origin{}, "%v", err)
		return nil, l.ps.err()
	}
	if !info.IsDir() {
		l.ps.add(origin{}, "%s is not a folder: a solution is a folder of YAML files", l.dir)
		return nil, l.ps.err()
	}
	files, err := l.files()
	if err != nil {
		l.ps.add(origin{}, "%v", err)
		return nil, l.ps.err()
	}
	manifest := ""
	for _, f := range files {
		if f == ManifestFile || f == "solution.yml" {
			if manifest != "" {
				l.ps.add(origin{file: f}, "a second manifest: keep %s only", manifest)
				continue
			}
			manifest = f
		}
	}
	if manifest == "" {
		l.ps.add(origin{file: ManifestFile}, "missing: a solution folder has a %s naming the solution and its version", ManifestFile)
	}
	for _, f := range files {
		l.file(f, f == manifest)
	}
	if l.incomplete {
		return nil, l.ps.err()
	}
	l.readPlugins()
	s := l.m.check(&l.ps)
	if err := l.ps.err(); err != nil {
		return nil, err
	}
	s.Files = len(files)
	return s, nil
}

// files lists the YAML files below the folder, relative to it with
// slashes, in lexical order.
func (l *loader) files() ([]string, error) {
	var files []string
	err := filepath.WalkDir(l.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != l.dir && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if ext := filepath.Ext(p); ext != ".yaml" && ext != ".yml" {
			return nil
		}
		rel, err := filepath.Rel(l.dir, p)
		if err != nil {
			return err
		}
		files = append(files, filepath.ToSlash(rel))
		return nil
	})
	return files, err
}

// syntaxError matches the errors of the YAML parser.
var syntaxError = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

// file parses and checks one file and adds what it defines to the model.
func (l *loader) file(name string, manifest bool) {
	data, err := os.ReadFile(filepath.Join(l.dir, filepath.FromSlash(name)))
	if err != nil {
		l.incomplete = true
		l.ps.add(origin{file: name}, "%v", err)
		return
	}
	top := origin{file: name}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.empty(top, manifest)
			return
		}
		l.syntax(name, data, err)
		return
	}
	var next yaml.Node
	if err := dec.Decode(&next); err == nil {
		l.ps.add(origin{file: name, node: &next}, "a second YAML document: a solution file holds one")
	} else if !errors.Is(err, io.EOF) {
		l.syntax(name, data, err)
		return
	}
	root := resolve(&doc)
	if root == nil || (root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null") {
		l.empty(top, manifest)
		return
	}
	top.node = root

	// broken holds the locations with problems; an item with one is not
	// decoded.
	var broken [][]string
	value := toValue(root, nil, func(loc []string, key, first *yaml.Node) {
		broken = append(broken, loc)
		ctx, _ := locationWords(root, loc)
		l.ps.add(origin{file: name, node: key}, "%skey %q is defined twice (first at line %d)", ctx, key.Value, first.Line)
	})
	sch := l.v.file
	if manifest {
		sch = l.v.manifest
	}
	for _, p := range l.v.validate(sch, name, root, value) {
		broken = append(broken, p.loc)
		l.ps.add(p.at, "%s", p.msg)
	}
	if manifest {
		if len(broken) > 0 {
			return
		}
		if err := root.Decode(&l.m.manifest); err != nil {
			l.decodeError(top, err)
			return
		}
		l.m.manifestAt, l.m.manifestOK = top, true
		return
	}
	for _, sec := range sections() {
		_, list := mapEntry(root, sec.key)
		if list = resolve(list); list == nil || list.Kind != yaml.SequenceNode {
			continue
		}
		for i, el := range list.Content {
			el = resolve(el)
			at := origin{file: name, node: el}
			if isBroken(broken, sec.key, strconv.Itoa(i)) {
				if _, v := mapEntry(el, sec.nameKey); v != nil && resolve(v).Kind == yaml.ScalarNode {
					l.m.markBroken(sec.key, resolve(v).Value)
				}
				continue
			}
			if err := sec.add(&l.m, el, at); err != nil {
				l.decodeError(at, err)
			}
		}
	}
}

// isBroken reports whether a problem is at or below the location loc, or
// at the top of the file.
func isBroken(broken [][]string, loc ...string) bool {
	for _, b := range broken {
		if len(b) == 0 {
			return true
		}
		n := min(len(b), len(loc))
		if path.Join(b[:n]...) == path.Join(loc[:n]...) {
			return true
		}
	}
	return false
}

func (l *loader) empty(at origin, manifest bool) {
	if manifest {
		l.ps.add(at, "empty: the manifest names the solution and its version")
		return
	}
	l.ps.add(at, "empty file: want one top-level key: %s", strings.Join(sectionKeys(), ", "))
}

func sectionKeys() []string {
	var ks []string
	for _, s := range sections() {
		ks = append(ks, s.key)
	}
	return ks
}

// syntax reports a file that is not valid YAML.
func (l *loader) syntax(name string, data []byte, err error) {
	l.incomplete = true
	msg, line := err.Error(), 0
	if m := syntaxError.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
		if at := problemLine(data, msg); at > 0 {
			line = at
		}
	}
	l.ps.list = append(l.ps.list, Problem{File: name, Line: line, Message: "invalid YAML: " + msg})
}

// maxProblemLineSearch bounds the lines problemLine parses prefixes of.
const maxProblemLineSearch = 2000

// problemLine returns the line at which the YAML in data first fails with
// the problem msg (the parser's message without "yaml: line N: "), or 0.
//
// Why: for an error of the parser (rather than the scanner), such as a key
// indented wrongly, yaml.v3 reports the 0-based line where the enclosing
// block starts, which can be far above the mistake. The shortest prefix of
// whole lines that fails the same way ends at the line that is wrong.
func problemLine(data []byte, msg string) int {
	lines := bytes.SplitAfter(data, []byte("\n"))
	if len(lines) > maxProblemLineSearch {
		return 0
	}
	var prefix []byte
	for i, ln := range lines {
		prefix = append(prefix, ln...)
		dec := yaml.NewDecoder(bytes.NewReader(prefix))
		for {
			var n yaml.Node
			err := dec.Decode(&n)
			if err == nil {
				continue
			}
			if m := syntaxError.FindStringSubmatch(err.Error()); m != nil && m[2] == msg {
				return i + 1
			}
			break
		}
	}
	return 0
}

// decodeError reports a value the schema allowed but Go cannot hold, such
// as an integer too large for an int.
func (l *loader) decodeError(at origin, err error) {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		l.ps.add(at, "%v", err)
		return
	}
	for _, e := range te.Errors {
		msg, line := e, 0
		if rest, ok := strings.CutPrefix(e, "line "); ok {
			if n, r, ok := strings.Cut(rest, ": "); ok {
				line, _ = strconv.Atoi(n)
				msg = r
			}
		}
		l.ps.list = append(l.ps.list, Problem{File: at.file, Line: line, Message: msg})
	}
}

// MaxPluginSize bounds a plugin module's file.
const MaxPluginSize = 64 << 20

// readPlugins reads each plugin module's file, inside the solution
// folder, and notes its hash and size.
func (l *loader) readPlugins() {
	for i := range l.m.plugins {
		it := &l.m.plugins[i]
		at := it.at.at("file")
		name := it.def.File
		clean := path.Clean(name)
		if path.IsAbs(clean) || filepath.IsAbs(name) || clean == ".." || strings.HasPrefix(clean, "../") {
			l.ps.add(at, "plugin %s: file %s is outside the solution folder; keep the module in it", it.def.Name, name)
			continue
		}
		full := filepath.Join(l.dir, filepath.FromSlash(clean))
		info, err := os.Stat(full)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			hint := "build it with bizevents plugin build"
			if it.def.Source != "" {
				hint = fmt.Sprintf("build it with: bizevents plugin build %s -o %s", filepath.Join(l.dir, filepath.FromSlash(it.def.Source)), full)
			}
			l.ps.add(at, "plugin %s: file %s does not exist; %s", it.def.Name, name, hint)
			continue
		case err != nil:
			l.ps.add(at, "plugin %s: %v", it.def.Name, err)
			continue
		case info.IsDir():
			l.ps.add(at, "plugin %s: %s is a folder, not a .wasm file", it.def.Name, name)
			continue
		case info.Size() > MaxPluginSize:
			l.ps.add(at, "plugin %s: %s is %d bytes, over the limit of %d", it.def.Name, name, info.Size(), MaxPluginSize)
			continue
		}
		wasm, err := os.ReadFile(full)
		if err != nil {
			l.ps.add(at, "plugin %s: %v", it.def.Name, err)
			continue
		}
		if len(wasm) < 8 || string(wasm[:4]) != "\x00asm" {
			l.ps.add(at, "plugin %s: %s is not a WebAssembly module (it does not start with \\0asm)", it.def.Name, name)
			continue
		}
		it.def.File = clean
		it.def.Hash, it.def.Size = moduleHash(wasm), int64(len(wasm))
		if l.m.wasm == nil {
			l.m.wasm = map[string][]byte{}
		}
		l.m.wasm[it.def.Name] = wasm
	}
}
