package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/solution"
)

const (
	contosoDir = "../../internal/testdata/contoso"
	brokenDir  = "../../engine/solution/testdata/invalid/unknown_message"
)

func TestSolutionValidate(t *testing.T) {
	t.Parallel()

	t.Run("OK", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		code, out, errOut := b.cli(t, "", "solution", "validate", contosoDir)
		require.Equal(t, exitOK, code, errOut)
		require.Equal(t, "ok: contoso_customers 1.0.0: 3 tables, 6 custom APIs, 0 steps\n", out)
		require.Empty(t, errOut)
	})

	t.Run("Problems", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		code, out, errOut := b.cli(t, "", "solution", "validate", brokenDir)
		require.Equal(t, exitFailure, code)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		require.Len(t, lines, 4)
		require.Equal(t, "../../engine/solution/testdata/invalid/unknown_message/steps.yaml:3:14: "+
			"step frob: unknown message Frobnicate: neither a table message (Create, Retrieve, RetrieveMultiple, Update, Delete, Assign, GrantAccess, ModifyAccess, RevokeAccess) "+
			"nor a custom API of the solution", lines[0])
		require.Equal(t, "error [invalid_solution]: solution "+brokenDir+" does not validate: 4 problems\n", errOut)
	})

	t.Run("SyntaxError", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		code, out, _ := b.cli(t, "", "solution", "validate", "../../engine/solution/testdata/invalid/syntax_error")
		require.Equal(t, exitFailure, code)
		require.Contains(t, out, "syntax_error/tables.yaml:4: invalid YAML: ")
	})

	t.Run("JSON", func(t *testing.T) {
		t.Parallel()
		var out bytes.Buffer
		require.NoError(t, runSolutionValidate(t.Context(), solutionValidateOptions{Dir: contosoDir, JSON: true}, &out))
		var ok solutionValidateJSON
		require.NoError(t, json.Unmarshal(out.Bytes(), &ok))
		require.True(t, ok.OK)
		require.Equal(t, "contoso_customers", ok.Name)
		require.Len(t, ok.Hash, 64)
		require.Equal(t, 6, ok.CustomAPIs)

		out.Reset()
		err := runSolutionValidate(t.Context(), solutionValidateOptions{Dir: brokenDir, JSON: true}, &out)
		require.Equal(t, errcode.InvalidSolution, errcode.Of(err))
		var bad solutionValidateJSON
		require.NoError(t, json.Unmarshal(out.Bytes(), &bad))
		require.False(t, bad.OK)
		require.Len(t, bad.Problems, 4)
		require.Equal(t, solution.Problem{
			File: filepath.ToSlash(filepath.Join(brokenDir, "steps.yaml")), Line: 19, Column: 14,
			Message: "step create anything: a Create step needs a table",
		}, bad.Problems[3])
	})

	t.Run("Usage", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, tt := range []struct {
			args []string
			want string
		}{
			{[]string{"solution", "validate"}, "missing DIR"},
			{[]string{"solution", "validate", "a", "b"}, `unexpected argument "b"`},
			{[]string{"solution", "frob"}, `unknown command "frob"`},
		} {
			code, out, errOut := b.cli(t, "", tt.args...)
			require.Equal(t, exitUsage, code, errOut)
			require.Empty(t, out)
			require.Contains(t, errOut, tt.want)
			require.Contains(t, errOut, "Try 'bizevents solution")
		}
	})

	t.Run("Help", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		code, out, _ := b.cli(t, "", "help", "solution", "validate")
		require.Equal(t, exitOK, code)
		require.Contains(t, out, "Usage: bizevents solution validate DIR [flags]")
		code, out, _ = b.cli(t, "", "--help")
		require.Equal(t, exitOK, code)
		require.Regexp(t, `\n  solution\s+check and import solutions`, out)
	})
}
