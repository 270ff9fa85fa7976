package main

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/eventlog"
)

func TestUsageErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want []string // in stderr
	}{
		{nil, []string{"missing command", "Try 'bizevents --help'."}},
		{[]string{"frob"}, []string{`unknown command "frob"`, "bizevents --help"}},
		{[]string{"--db", "x"}, []string{"unknown flag --db: flags go after the command"}},
		{[]string{"log"}, []string{"missing command", "bizevents log --help"}},
		{[]string{"log", "frob"}, []string{`error [invalid_argument]: unknown command "frob"`, "Try 'bizevents log --help'."}},
		{[]string{"log", "read", "--after", "abc"}, []string{
			`error [invalid_argument]: invalid value "abc" for flag -after: want a non-negative integer`,
			"Try 'bizevents log read --help'.",
		}},
		{[]string{"log", "read", "--after", "-1"}, []string{"-after: want a non-negative integer"}},
		{[]string{"log", "read", "--limit", "ten"}, []string{"-limit: want a non-negative integer"}},
		{[]string{"log", "read", "--since", "yesterday"}, []string{"-since: want an RFC 3339 time"}},
		{[]string{"log", "read", "--since", "2025-02-01", "--until", "2025-01-01T00:00:00Z"}, []string{"is not after --since"}},
		{[]string{"log", "read", "--bogus"}, []string{"flag provided but not defined: -bogus", "bizevents log read --help"}},
		{[]string{"log", "read", "extra"}, []string{`unexpected argument "extra"`}},
		{[]string{"log", "tail", "--from", "x"}, []string{"-from: want a non-negative integer"}},
		{[]string{"log", "verify", "--to", "1.5"}, []string{"-to: want a non-negative integer"}},
		{[]string{"log", "stream", "s", "--from-version", "v2"}, []string{"-from-version: want a non-negative integer"}},
		{[]string{"log", "append", "--expect-version", "x"}, []string{"-expect-version: want a non-negative integer"}},
		{[]string{"log", "read", "--schema", "s"}, []string{"--schema is for PostgreSQL"}},
		{[]string{"serve", "--log-level", "loud"}, []string{"invalid value \"loud\" for flag -log-level", "bizevents serve --help"}},
		{[]string{"serve", "--shutdown-timeout", "soon"}, []string{"-shutdown-timeout"}},
	} {
		t.Run(strings.Join(tt.args, "_"), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			code, out, errOut := b.cli(t, "", tt.args...)
			require.Equal(t, exitUsage, code, errOut)
			require.Empty(t, out)
			for _, w := range tt.want {
				require.Contains(t, errOut, w)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"help"}, {"-h"}, {"--help"}} {
		t.Run(args[0], func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			code, out, errOut := b.cli(t, "", args...)
			require.Equal(t, exitOK, code, errOut)
			require.Contains(t, out, "Usage: bizevents <command>")
			require.Regexp(t, `\n  serve\s+run the engine's HTTP server`, out)
			require.Regexp(t, `\n  log\s+append to, read`, out)
		})
	}
	t.Run("Group", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		code, out, _ := b.cli(t, "", "help", "log")
		require.Equal(t, exitOK, code)
		for _, sub := range []string{"append", "read", "tail", "verify", "stream"} {
			require.Regexp(t, `\n  `+sub+`\s+\S`, out)
		}
	})
	t.Run("Leaf", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		for _, args := range [][]string{{"log", "read", "-h"}, {"help", "log", "read"}} {
			code, out, _ := b.cli(t, "", args...)
			require.Equal(t, exitOK, code)
			require.Contains(t, out, "Usage: bizevents log read [flags]")
			require.Contains(t, out, "-correlation-id")
			require.Contains(t, out, "env BIZEVENTS_DB")
		}
		code, out, _ := b.cli(t, "", "log", "stream", "--help")
		require.Equal(t, exitOK, code)
		require.Contains(t, out, "Usage: bizevents log stream STREAMID [flags]")
	})
}

func TestExitCode(t *testing.T) {
	t.Parallel()
	var sb strings.Builder
	require.Equal(t, exitOK, exitCode(&sb, nil))
	require.Empty(t, sb.String())

	err := fmt.Errorf("append: %w", &eventlog.VersionConflictError{StreamID: "s", Expected: 1, Actual: 2})
	require.Equal(t, exitFailure, exitCode(&sb, err))
	require.Equal(t, "error [version_conflict]: append: eventlog: stream version conflict: \"s\" expected at version 1, is at 2\n", sb.String())

	sb.Reset()
	require.Equal(t, exitFailure, exitCode(&sb, errors.New("boom")))
	require.Equal(t, "error [internal]: boom\n", sb.String())

	sb.Reset()
	require.Equal(t, exitFailure, exitCode(&sb, &failure{msg: "hash chain broken"}))
	require.Equal(t, "error: hash chain broken\n", sb.String())
}
