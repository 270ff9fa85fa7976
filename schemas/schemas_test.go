package schemas_test

import (
	"bytes"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/schemas"
)

func TestSchemasCompile(t *testing.T) {
	t.Parallel()
	names, err := fs.Glob(schemas.FS(), "*.schema.json")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{schemas.Solution, schemas.SolutionFile, schemas.Flow, schemas.ExecutionContext, schemas.CloudEvent}, names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc := load(t, name)
			require.Equal(t, schemas.BaseURL+name, doc.(map[string]any)["$id"])
			_, err := compiler(t).Compile(schemas.BaseURL + name)
			require.NoError(t, err)
		})
	}
}

// compiler returns a compiler that has every schema file as a resource
// under BaseURL, as a validator needs for the files' $refs to each other.
func compiler(t *testing.T) *jsonschema.Compiler {
	t.Helper()
	names, err := fs.Glob(schemas.FS(), "*.schema.json")
	require.NoError(t, err)
	c := jsonschema.NewCompiler()
	for _, name := range names {
		require.NoError(t, c.AddResource(schemas.BaseURL+name, load(t, name)))
	}
	return c
}

// TestSchemasDescribed checks that every property and every definition has
// a description, which editors show while completing.
func TestSchemasDescribed(t *testing.T) {
	t.Parallel()
	for _, name := range []string{schemas.Solution, schemas.SolutionFile, schemas.Flow} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var missing []string
			var walk func(path string, v any)
			walk = func(path string, v any) {
				obj, ok := v.(map[string]any)
				if !ok {
					return
				}
				for _, group := range []string{"properties", "$defs"} {
					children, _ := obj[group].(map[string]any)
					for key, child := range children {
						p := path + "/" + group + "/" + key
						if d, _ := child.(map[string]any)["description"].(string); strings.TrimSpace(d) == "" {
							missing = append(missing, p)
						}
						walk(p, child)
					}
				}
				if items, ok := obj["items"]; ok {
					walk(path+"/items", items)
				}
			}
			doc := load(t, name)
			require.NotEmpty(t, doc.(map[string]any)["description"])
			walk("", doc)
			slices.Sort(missing)
			require.Empty(t, missing, "without a description")
		})
	}
}

// TestExampleModelines checks that the example solution's files name their
// schema for yaml-language-server, by a path that exists.
func TestExampleModelines(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "examples", "contoso")
	modeline := regexp.MustCompile(`(?m)^# yaml-language-server: \$schema=(\S+)$`)
	var n int
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(path) != ".yaml" {
			return err
		}
		n++
		data, err := os.ReadFile(path)
		require.NoError(t, err)
		m := modeline.FindSubmatch(data)
		require.NotNil(t, m, "%s has no yaml-language-server modeline", path)
		want := schemas.SolutionFile
		if filepath.Base(path) == "solution.yaml" && filepath.Dir(path) == dir {
			want = schemas.Solution
		}
		ref := string(m[1])
		require.Equal(t, want, filepath.Base(ref), path)
		_, err = os.Stat(filepath.Join(filepath.Dir(path), filepath.FromSlash(ref)))
		require.NoError(t, err, "%s: the schema path does not resolve", path)
		return nil
	})
	require.NoError(t, err)
	require.Positive(t, n)
}

func load(t *testing.T, name string) any {
	t.Helper()
	data, err := fs.ReadFile(schemas.FS(), name)
	require.NoError(t, err)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	require.True(t, json.Valid(data))
	return doc
}
