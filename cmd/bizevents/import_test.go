package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSolutionImportAndRebuild(t *testing.T) {
	t.Parallel()
	b := setup(t)
	contoso := filepath.Join("..", "..", "internal", "testdata", "contoso")

	code, out, errOut := b.cli(t, "", "solution", "import", contoso)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "imported: contoso_customers")

	code, out, errOut = b.cli(t, "", "solution", "import", contoso)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "unchanged: contoso_customers")

	// A broken folder imports nothing and says where it is broken.
	broken := t.TempDir()
	writeFile(t, filepath.Join(broken, "solution.yaml"), "name: broken\nversion: 1.0.0\n")
	writeFile(t, filepath.Join(broken, "tables.yaml"), "tables:\n  - logicalName: thing\n    pluralName: things\n    columns:\n      - { logicalName: size, type: huge }\n")
	code, out, _ = b.cli(t, "", "solution", "import", broken)
	require.NotEqual(t, 0, code)
	require.Contains(t, out, "tables.yaml:5:")

	code, out, errOut = b.cli(t, "", "log", "read")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, 1, strings.Count(out, "SolutionImported"), out)

	code, out, errOut = b.cli(t, "", "replay", "rebuild")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "rebuilt: 0 rows from 1 events")
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}
