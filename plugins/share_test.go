package plugins_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
	sdk "github.com/bizevents/bizevents/sdk/go"
)

// TestEngineShareMessages runs a Go plugin (testdata/service, built from
// source) that shares a row through execute with GrantAccess, ModifyAccess
// and RevokeAccess, inside the message's transaction, and an async plugin
// step on GrantAccess that reads the share and the row's pre image.
func TestEngineShareMessages(t *testing.T) {
	t.Parallel()
	alice := uuid.MustParse("0196d7c2-0000-7000-8000-00000000000a")
	bob := uuid.MustParse("0196d7c2-0000-7000-8000-00000000000b")
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		steps := []pipeline.Step{
			{Name: "share", Message: pipeline.Create, Table: "contact", Stage: pipeline.PostOperation, Mode: pipeline.Sync,
				Handler: "service/Share", Config: alice.String() + "," + bob.String()},
			{Name: "shared-before", Message: pipeline.GrantAccess, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Async,
				Handler: "service/SharedBefore", PreImages: []pipeline.Image{{Name: "before", Columns: []string{"name", tables.ColumnVersion}}}},
		}
		b := setupEngine(t, open)
		store := tables.Table{LogicalName: "store", PluralName: "stores", Ownership: tables.OrganizationOwned,
			Columns: []tables.Column{{LogicalName: "name", Type: tables.String}}}
		defs, err := pipeline.NewDefinitions([]tables.Table{account, contact, store}, []customapi.API{score, purchase}, steps)
		require.NoError(t, err)
		b.e.SetDefinitions(defs)
		ctx := context.Background()

		acc, err := b.create("account", map[string]any{"name": "Contoso"})
		require.NoError(t, err)
		correlation := uuid.New()
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "contact", Caller: caller, CorrelationID: correlation,
			Target: map[string]any{"lastname": "Smith", "parentcustomerid": acc.ID.String()}})
		require.NoError(t, err)

		list, err := b.e.Shares(ctx, "account", acc.ID)
		require.NoError(t, err)
		require.Len(t, list, 1, "bob's share was revoked")
		require.Equal(t, alice, list[0].Principal)
		require.Equal(t, tables.ReadAccess|tables.WriteAccess|tables.AppendToAccess, list[0].Rights, "two grants add up")

		evs, err := b.db.Log().ReadStream(ctx, eventlog.StreamQuery{StreamID: "account/" + acc.ID.String()})
		require.NoError(t, err)
		var types []string
		for _, ev := range evs[1:] {
			types = append(types, ev.Type)
			require.Equal(t, 2, ev.Metadata.Depth, "executed by the plugin, one level deeper")
			require.Equal(t, correlation.String(), ev.Metadata.CorrelationID)
		}
		require.Equal(t, []string{"account.GrantAccess", "account.GrantAccess", "account.GrantAccess", "account.ModifyAccess", "account.RevokeAccess"}, types)

		lines := b.traceLines(correlation)
		for _, want := range []string{
			"create access: invalid_value",
			"no rights: invalid_argument",
			"bad principal: invalid_argument",
			"no principal: invalid_argument",
			"rights on revoke: invalid_argument",
			"principal on update: invalid_argument",
			"stale version: version_conflict",
			"organization-owned: invalid_argument",
			"account at version 6; alice has ReadAccess, WriteAccess, AppendToAccess",
		} {
			require.Contains(t, lines, want)
		}

		// The async step on each GrantAccess, after commit: the share from
		// the event, the row before it from the log.
		for _, ev := range evs[1:4] {
			require.Equal(t, []string{"shared-before"}, pipeline.EventSteps(ev))
			require.NoError(t, b.e.RunAsyncStep(ctx, ev, "shared-before"))
		}
		lines = b.traceLines(correlation)
		for _, want := range []string{
			fmt.Sprintf("GrantAccess shared Contoso with %s: ReadAccess (0x1), version 1 before, async mode", alice),
			fmt.Sprintf("GrantAccess shared Contoso with %s: WriteAccess, AppendToAccess (0x12), version 2 before, async mode", alice),
			fmt.Sprintf("GrantAccess shared Contoso with %s: ShareAccess (0x40000), version 3 before, async mode", bob),
		} {
			require.Contains(t, lines, want)
		}

		// A plugin that shares and then fails leaves no share and no event.
		rows, head := b.rows(t), b.head(t)
		other, err := b.create("account", map[string]any{"name": "Fabrikam"})
		require.NoError(t, err)
		rows, head = rows+1, head+1
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Create, Table: "contact", Caller: caller,
			Target: map[string]any{"lastname": "share-fail", "parentcustomerid": other.ID.String()}})
		requireCode(t, err, errcode.HandlerFailed)
		require.ErrorContains(t, err, "shared, then failed")
		list, err = b.e.Shares(ctx, "account", other.ID)
		require.NoError(t, err)
		require.Empty(t, list)
		require.Equal(t, rows, b.rows(t))
		require.Equal(t, head, b.head(t))
	})
}

// TestAccessRightsMatchTheHost checks that the SDK's rights are the
// engine's: the same bits, written and read the same way.
func TestAccessRightsMatchTheHost(t *testing.T) {
	t.Parallel()
	pairs := []struct {
		sdk  sdk.AccessRights
		host tables.AccessRights
	}{
		{sdk.ReadAccess, tables.ReadAccess}, {sdk.WriteAccess, tables.WriteAccess}, {sdk.AppendAccess, tables.AppendAccess},
		{sdk.AppendToAccess, tables.AppendToAccess}, {sdk.DeleteAccess, tables.DeleteAccess}, {sdk.ShareAccess, tables.ShareAccess},
		{sdk.AssignAccess, tables.AssignAccess}, {0x20, tables.CreateAccess}, {0, 0},
		{sdk.ReadAccess | sdk.ShareAccess | 0x1000000, tables.ReadAccess | tables.ShareAccess | 0x1000000},
	}
	var all sdk.AccessRights
	for _, p := range pairs {
		require.Equal(t, uint32(p.host), uint32(p.sdk))
		require.Equal(t, p.host.String(), p.sdk.String())
		all |= p.sdk
	}
	require.Equal(t, uint32(tables.ShareableRights|tables.CreateAccess|0x1000000), uint32(all))
	for _, s := range []string{"ReadAccess, WriteAccess", "read,write", "None", "", " Share , AssignAccess ", "AppendTo"} {
		want, err := tables.ParseAccessRights(s)
		require.NoError(t, err)
		got, err := sdk.ParseAccessRights(s)
		require.NoError(t, err)
		require.Equal(t, uint32(want), uint32(got), s)
	}
	_, err := sdk.ParseAccessRights("ReadAccess, Everything")
	var e *sdk.Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, "invalid_value", e.Code)
}
