package solution_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

func TestImport(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, append(append([]storage.Migration{}, tables.Migrations...), solution.Migrations...)...)
		e := pipeline.New(db, pipeline.Config{})
		contoso, err := solution.Load(filepath.Join("..", "..", "internal", "testdata", "contoso"))
		require.NoError(t, err)

		res, err := solution.Import(ctx, db, contoso, pipeline.Caller{})
		require.NoError(t, err)
		require.False(t, res.Unchanged)
		require.Empty(t, res.PreviousVersion)
		require.NotEmpty(t, res.Changes)
		require.NoError(t, solution.Activate(ctx, e, nil))
		_, ok := e.Definitions().TableByPlural("accounts")
		require.True(t, ok)

		// The same definition again: nothing happens.
		res, err = solution.Import(ctx, db, contoso, pipeline.Caller{})
		require.NoError(t, err)
		require.True(t, res.Unchanged)

		// An upgrade: a new column, a new version.
		up, err := solution.Decode(mustEncode(t, contoso))
		require.NoError(t, err)
		up.Version = "1.1.0"
		up.Tables[0].Columns = append(up.Tables[0].Columns, tables.Column{LogicalName: "nickname", Type: tables.String, MaxLength: 40})
		up, err = solution.Decode(mustEncode(t, up))
		require.NoError(t, err)
		res, err = solution.Import(ctx, db, up, pipeline.Caller{})
		require.NoError(t, err)
		require.Equal(t, contoso.Version, res.PreviousVersion)
		require.Contains(t, res.Changes.String(), "nickname")
		require.NoError(t, solution.Activate(ctx, e, nil))
		acc, _ := e.Definitions().Table(up.Tables[0].LogicalName)
		_, ok = acc.Column("nickname")
		require.True(t, ok)

		evs, err := db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "solution/" + contoso.Name})
		require.NoError(t, err)
		require.Len(t, evs, 2)
		require.Equal(t, solution.EventImported, evs[1].Type)

		// Another solution may not define the same table.
		clash, err := solution.Decode(mustEncode(t, contoso))
		require.NoError(t, err)
		clash.Name = "other_solution"
		clash, err = solution.Decode(mustEncode(t, clash))
		require.NoError(t, err)
		_, err = solution.Import(ctx, db, clash, pipeline.Caller{})
		require.Equal(t, errcode.InvalidSolution, errcode.Of(err), "%v", err)
		all, err := solution.Imported(ctx, db)
		require.NoError(t, err)
		require.Len(t, all, 1)
	})
}

func mustEncode(t *testing.T, s *solution.Solution) []byte {
	t.Helper()
	b, err := json.Marshal(s)
	require.NoError(t, err)
	return b
}

// pluginSolution writes a solution folder shipping one plugin module with
// the given bytes, and a step on it, and loads it.
func pluginSolution(t *testing.T, dir string, wasm []byte) *solution.Solution {
	t.Helper()
	files := map[string]string{
		"solution.yaml": "name: shop\nversion: 1.0.0\n",
		"tables.yaml":   "tables:\n  - logicalName: order\n    pluralName: orders\n    columns:\n      - logicalName: total\n        type: money\n",
		"plugins.yaml":  "plugins:\n  - name: shop_rules\n    file: plugins/rules.wasm\n    source: src/rules\n",
		"steps.yaml":    "steps:\n  - name: check order\n    message: Create\n    table: order\n    stage: PreOperation\n    mode: sync\n    handler: shop_rules/CheckOrder\n",
	}
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "plugins"), 0o755))
	for name, text := range files {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644))
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "plugins", "rules.wasm"), wasm, 0o644))
	s, err := solution.Load(dir)
	require.NoError(t, err)
	return s
}

// emptyModule is the smallest WebAssembly module: the magic and version,
// nothing else. It is a module, but no plugin.
var emptyModule = []byte("\x00asm\x01\x00\x00\x00")

func TestImportPlugins(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, append(append([]storage.Migration{}, tables.Migrations...), solution.Migrations...)...)
		dir := t.TempDir()
		s := pluginSolution(t, dir, emptyModule)
		p, ok := s.Plugin("shop_rules")
		require.True(t, ok)
		require.Equal(t, "plugins/rules.wasm", p.File)
		require.Equal(t, int64(len(emptyModule)), p.Size)
		require.Len(t, p.Hash, 64)

		// The definition names the module by hash, without its bytes.
		def := mustEncode(t, s)
		require.Contains(t, string(def), `"hash":"`+p.Hash+`"`)
		require.NotContains(t, string(def), "\\u0000asm")
		decoded, err := solution.Decode(def)
		require.NoError(t, err)
		require.Equal(t, s.Hash, decoded.Hash)
		require.Nil(t, decoded.Plugins[0].Wasm)

		// A decoded solution has no bytes to store: import it from its folder.
		_, err = solution.Import(ctx, db, decoded, pipeline.Caller{})
		require.ErrorContains(t, err, "holds no module bytes")

		res, err := solution.Import(ctx, db, s, pipeline.Caller{})
		require.NoError(t, err)
		require.Contains(t, res.Changes.String(), "added plugin shop_rules")
		got, err := solution.ModuleBytes(ctx, db, p.Hash)
		require.NoError(t, err)
		require.Equal(t, emptyModule, got)
		_, err = solution.ModuleBytes(ctx, db, strings.Repeat("0", 64))
		require.Equal(t, errcode.NotFound, errcode.Of(err))

		// A new build of the module is a new version of the solution.
		newer := append(append([]byte{}, emptyModule...), 0x00, 0x01, 0x00) // plus an empty custom section
		s2 := pluginSolution(t, dir, newer)
		require.NotEqual(t, s.Hash, s2.Hash)
		res, err = solution.Import(ctx, db, s2, pipeline.Caller{})
		require.NoError(t, err)
		require.Contains(t, res.Changes.String(), "changed plugin shop_rules: hash:")
		got, err = solution.ModuleBytes(ctx, db, s2.Plugins[0].Hash)
		require.NoError(t, err)
		require.Equal(t, newer, got)
		got, err = solution.ModuleBytes(ctx, db, p.Hash)
		require.NoError(t, err, "an older version stays loadable, for replays")
		require.Equal(t, emptyModule, got)

		// Activation asks the host for exactly the imported modules.
		host := &recordingHost{}
		e := pipeline.New(db, pipeline.Config{})
		require.NoError(t, solution.Activate(ctx, e, host))
		require.Equal(t, map[string]string{"shop_rules": s2.Plugins[0].Hash}, host.want)
		require.Equal(t, newer, host.fetched["shop_rules"])
		_, ok = e.Definitions().Table("order")
		require.True(t, ok)

		// A host that cannot load a module leaves the definitions as they were.
		e2 := pipeline.New(db, pipeline.Config{})
		err = solution.Activate(ctx, e2, &recordingHost{fail: errors.New("not a plugin")})
		require.ErrorContains(t, err, "not a plugin")
		_, ok = e2.Definitions().Table("order")
		require.False(t, ok)

		// Another solution may not ship a plugin of the same name.
		other := pluginSolution(t, t.TempDir(), emptyModule)
		other.Name = "other_shop"
		other.Tables = nil
		other.Steps = nil
		other, err = solution.Decode(mustEncode(t, other))
		require.NoError(t, err)
		_, err = solution.Merge([]*solution.Solution{s2, other})
		require.ErrorContains(t, err, "plugin shop_rules is shipped by solutions")
	})
}

// recordingHost is a PluginHost that keeps what Activate asked of it. (The
// real host, plugins.Registry, is exercised end to end in examples/plugins
// and cmd/bizevents.)
type recordingHost struct {
	want    map[string]string
	fetched map[string][]byte
	fail    error
}

func (h *recordingHost) Sync(ctx context.Context, want map[string]string, fetch func(context.Context, string) ([]byte, error)) error {
	if h.fail != nil {
		return h.fail
	}
	h.want, h.fetched = want, map[string][]byte{}
	for name, hash := range want {
		b, err := fetch(ctx, hash)
		if err != nil {
			return err
		}
		h.fetched[name] = b
	}
	return nil
}

func TestImportCatalogs(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		ctx := context.Background()
		db := open(t, append(append([]storage.Migration{}, tables.Migrations...), solution.Migrations...)...)
		x, err := solution.Catalogs(ctx, db)
		require.NoError(t, err)
		require.Empty(t, x.Catalogs(), "nothing imported")

		contoso, err := solution.Load(filepath.Join("..", "..", "internal", "testdata", "contoso"))
		require.NoError(t, err)
		_, err = solution.Import(ctx, db, contoso, pipeline.Caller{})
		require.NoError(t, err)
		x, err = solution.Catalogs(ctx, db)
		require.NoError(t, err)
		require.Len(t, x.Catalogs(), 1)
		require.Equal(t, "contoso_customers", x.Catalogs()[0].Solution)
		ev, err := x.Event("contoso_customers", "contact.GrantAccess")
		require.NoError(t, err)
		require.Equal(t, []string{"contoso_customer_events"}, ev.Categories)

		// Unique names are unique across the imported solutions' catalogs and categories.
		for _, tt := range []struct{ name, catalogs, want string }{
			{"catalog", `[{"uniqueName":"contoso_customers","displayName":"Mine"}]`,
				"catalog contoso_customers of solution other: unique name contoso_customers is taken by catalog contoso_customers of solution contoso_customers"},
			{"category", `[{"uniqueName":"other_root","displayName":"Mine","categories":[{"uniqueName":"Contoso_External_Events","displayName":"X"}]}]`,
				"unique name Contoso_External_Events is taken by category contoso_external_events"},
		} {
			other, err := solution.Decode([]byte(`{"name":"other","version":"1.0","tables":[{"logicalName":"other_thing","pluralName":"other_things"}],"catalogs":` + tt.catalogs + `}`))
			require.NoError(t, err, tt.name)
			_, err = solution.Import(ctx, db, other, pipeline.Caller{})
			require.Equal(t, errcode.InvalidSolution, errcode.Of(err), tt.name)
			require.ErrorContains(t, err, tt.want, tt.name)
		}
		all, err := solution.Imported(ctx, db)
		require.NoError(t, err)
		require.Len(t, all, 1)
	})
}
