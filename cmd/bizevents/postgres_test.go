package main

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/internal/testpg"
)

// TestPostgres runs the log commands through --db URL --schema NAME.
func TestPostgres(t *testing.T) {
	t.Parallel()
	b := setup(t)
	url, schema := testpg.URL(t), testpg.Schema(t)
	db := []string{"--db", url, "--schema", schema}
	cli := func(args ...string) (int, string, string) {
		t.Helper()
		return b.cli(t, "", append(args, db...)...)
	}

	var appended []eventJSON
	for i, typ := range []string{"Create", "Update", "CustomerPurchase"} {
		stream := "account/1"
		if i == 2 {
			stream = "order/1"
		}
		code, out, errOut := cli("log", "append", "--stream", stream, "--type", typ, "--data", `{"i":`+string(rune('0'+i))+`}`, "--correlation-id", "c")
		require.Equal(t, exitOK, code, errOut)
		evs := parseJSONLines(t, out)
		require.Len(t, evs, 1)
		// append waits for the sealer: the event has its position and hash.
		require.Equal(t, ptr(int64(i+1)), evs[0].Position, "stderr: %s", errOut)
		require.NotNil(t, evs[0].Hash)
		appended = append(appended, evs[0])
	}

	code, out, errOut := cli("log", "read", "--json")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, appended, parseJSONLines(t, out))

	code, out, errOut = cli("log", "read", "--json", "--stream", "account/1", "--type", "Update")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, []int64{2}, positions(parseJSONLines(t, out)))

	code, out, errOut = cli("log", "stream", "account/1", "--json")
	require.Equal(t, exitOK, code, errOut)
	require.Equal(t, appended[:2], parseJSONLines(t, out))

	code, out, errOut = cli("log", "verify", "--json")
	require.Equal(t, exitOK, code, errOut)
	var rep verifyJSON
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.True(t, rep.OK)
	require.EqualValues(t, 3, rep.Checked)
	require.Equal(t, *appended[2].Hash, rep.Head.Hash)

	code, _, errOut = cli("log", "append", "--stream", "order/1", "--type", "X", "--data", "{}", "--expect-version", "0")
	require.Equal(t, exitFailure, code)
	require.Contains(t, errOut, "error [version_conflict]: ")
}
