package pipeline_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

// store is organization-owned: its rows are not shared.
var store = tables.Table{
	LogicalName: "store", PluralName: "stores", Ownership: tables.OrganizationOwned,
	Columns: []tables.Column{{LogicalName: "name", Type: tables.String}},
}

var (
	alice = uuid.MustParse("0196d7c2-0000-7000-8000-00000000000a")
	bob   = uuid.MustParse("0196d7c2-0000-7000-8000-00000000000b")
)

// shareSetup is setup with the store table too.
func shareSetup(t *testing.T, open storagetest.Opener, steps ...pipeline.Step) *bundle {
	t.Helper()
	b := setup(t, open)
	defs, err := pipeline.NewDefinitions([]tables.Table{account, contact, store}, []customapi.API{purchase, score, lookupName}, steps)
	require.NoError(t, err)
	b.e.SetDefinitions(defs)
	return b
}

func (b *bundle) share(t *testing.T, message string, id, principal uuid.UUID, rights tables.AccessRights) (pipeline.Response, error) {
	t.Helper()
	return b.e.Execute(context.Background(), pipeline.Request{Message: message, Table: "account", ID: id, Principal: principal, AccessRights: rights, Caller: user})
}

func (b *bundle) shares(t *testing.T, table string, id uuid.UUID) map[uuid.UUID]tables.AccessRights {
	t.Helper()
	list, err := b.e.Shares(context.Background(), table, id)
	require.NoError(t, err)
	out := map[uuid.UUID]tables.AccessRights{}
	for _, s := range list {
		out[s.Principal] = s.Rights
	}
	return out
}

func TestShareMessages(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := shareSetup(t, open)
		ctx := context.Background()
		acc, err := b.create(t, "account", map[string]any{"name": "Contoso", "city": "Oslo"})
		require.NoError(t, err)
		id := acc.ID

		steps := []struct {
			message   string
			principal uuid.UUID
			rights    tables.AccessRights
			want      map[uuid.UUID]tables.AccessRights
		}{
			{pipeline.GrantAccess, alice, tables.ReadAccess, map[uuid.UUID]tables.AccessRights{alice: tables.ReadAccess}},
			{pipeline.GrantAccess, alice, tables.WriteAccess | tables.ReadAccess, map[uuid.UUID]tables.AccessRights{alice: tables.ReadAccess | tables.WriteAccess}},
			{pipeline.GrantAccess, bob, tables.ShareAccess, map[uuid.UUID]tables.AccessRights{alice: tables.ReadAccess | tables.WriteAccess, bob: tables.ShareAccess}},
			{pipeline.ModifyAccess, alice, tables.DeleteAccess, map[uuid.UUID]tables.AccessRights{alice: tables.DeleteAccess, bob: tables.ShareAccess}},
			{pipeline.RevokeAccess, alice, 0, map[uuid.UUID]tables.AccessRights{bob: tables.ShareAccess}},
			{pipeline.RevokeAccess, alice, 0, map[uuid.UUID]tables.AccessRights{bob: tables.ShareAccess}},
			{pipeline.ModifyAccess, alice, tables.AssignAccess | tables.AppendAccess, map[uuid.UUID]tables.AccessRights{alice: tables.AssignAccess | tables.AppendAccess, bob: tables.ShareAccess}},
		}
		for i, s := range steps {
			resp, err := b.share(t, s.message, id, s.principal, s.rights)
			require.NoError(t, err, "%d %s", i, s.message)
			require.Equal(t, int64(i+2), resp.Version, "a share moves the row's version on")
			require.NotEqual(t, uuid.Nil, resp.EventID)
			require.Equal(t, s.want, b.shares(t, "account", id), "%d %s", i, s.message)
		}

		// The row's values and modifiedon are untouched; its version is its stream's.
		got, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.Retrieve, Table: "account", ID: id, Caller: user})
		require.NoError(t, err)
		require.Equal(t, "Oslo", got.Row["city"])
		require.Equal(t, int64(1+len(steps)), got.Row[tables.ColumnVersion])
		require.Equal(t, acc.Row[tables.ColumnModifiedOn], got.Row[tables.ColumnModifiedOn])
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: id, Target: map[string]any{"city": "Rome"},
			ExpectedVersion: int64(1 + len(steps)), Caller: user})
		require.NoError(t, err, "an Update at the version after the shares")

		evs := b.events(t, "account/"+id.String())
		require.Len(t, evs, 2+len(steps))
		for i, s := range steps {
			ev := evs[i+1]
			require.Equal(t, "account."+s.message, ev.Type)
			require.Equal(t, int64(i+2), ev.StreamVersion)
			var data map[string]any
			require.NoError(t, json.Unmarshal(ev.Data, &data))
			in := data["inputParameters"].(map[string]any)
			require.Equal(t, map[string]any{"table": "account", "id": id.String()}, in["Target"])
			principal := map[string]any{"table": "systemuser", "id": s.principal.String()}
			if s.message == pipeline.RevokeAccess {
				require.Equal(t, principal, in["Revokee"])
				require.NotContains(t, in, "PrincipalAccess")
			} else {
				require.Equal(t, map[string]any{"Principal": principal, "AccessMask": s.rights.String()}, in["PrincipalAccess"])
			}
			share := data["share"].(map[string]any)
			require.Equal(t, s.principal.String(), share["principal"])
			require.Equal(t, s.want[s.principal].String(), share["rights"], "the rights after the message")
			require.NotContains(t, data, "row", "a share changes no column")
		}

		// Deleting the row deletes its shares.
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Delete, Table: "account", ID: id, Caller: user})
		require.NoError(t, err)
		require.Empty(t, b.shares(t, "account", id))
	})
}

func TestShareBadInputWritesNothing(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := shareSetup(t, open)
		ctx := context.Background()
		acc, err := b.create(t, "account", map[string]any{"name": "Contoso"})
		require.NoError(t, err)
		st, err := b.create(t, "store", map[string]any{"name": "Main street"})
		require.NoError(t, err)
		head := b.head(t)

		tests := []struct {
			name string
			req  pipeline.Request
			code errcode.Code
			msg  string
		}{
			{"unknown right bits", pipeline.Request{Message: pipeline.GrantAccess, Table: "account", ID: acc.ID, Principal: alice, AccessRights: 0x100},
				errcode.InvalidValue, "unknown access right bits 0x100"},
			{"create access", pipeline.Request{Message: pipeline.ModifyAccess, Table: "account", ID: acc.ID, Principal: alice, AccessRights: tables.ReadAccess | tables.CreateAccess},
				errcode.InvalidValue, "CreateAccess is a right on a table"},
			{"no rights", pipeline.Request{Message: pipeline.GrantAccess, Table: "account", ID: acc.ID, Principal: alice},
				errcode.InvalidArgument, "GrantAccess needs at least one access right"},
			{"no rights to modify", pipeline.Request{Message: pipeline.ModifyAccess, Table: "account", ID: acc.ID, Principal: alice},
				errcode.InvalidArgument, "RevokeAccess removes a share"},
			{"rights on revoke", pipeline.Request{Message: pipeline.RevokeAccess, Table: "account", ID: acc.ID, Principal: alice, AccessRights: tables.ReadAccess},
				errcode.InvalidArgument, "RevokeAccess takes no access rights"},
			{"organization-owned", pipeline.Request{Message: pipeline.GrantAccess, Table: "store", ID: st.ID, Principal: alice, AccessRights: tables.ReadAccess},
				errcode.InvalidArgument, "table store is organization-owned"},
			{"missing row", pipeline.Request{Message: pipeline.GrantAccess, Table: "account", ID: uuid.New(), Principal: alice, AccessRights: tables.ReadAccess},
				errcode.NotFound, "does not exist"},
			{"no principal", pipeline.Request{Message: pipeline.RevokeAccess, Table: "account", ID: acc.ID},
				errcode.InvalidArgument, "needs the principal"},
			{"no row id", pipeline.Request{Message: pipeline.GrantAccess, Table: "account", Principal: alice, AccessRights: tables.ReadAccess},
				errcode.InvalidArgument, "needs the row's id"},
			{"unknown table", pipeline.Request{Message: pipeline.GrantAccess, Table: "nope", ID: acc.ID, Principal: alice, AccessRights: tables.ReadAccess},
				errcode.NotFound, `table "nope" is not defined`},
			{"version conflict", pipeline.Request{Message: pipeline.GrantAccess, Table: "account", ID: acc.ID, Principal: alice, AccessRights: tables.ReadAccess, ExpectedVersion: 7},
				errcode.VersionConflict, ""},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				tt.req.Caller = user
				_, err := b.e.Execute(ctx, tt.req)
				requireCode(t, err, tt.code)
				require.ErrorContains(t, err, tt.msg)
			})
		}
		require.Equal(t, head, b.head(t), "no event")
		require.Empty(t, b.shares(t, "account", acc.ID))
		require.Empty(t, b.shares(t, "store", st.ID))
	})
}

func TestShareSteps(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := shareSetup(t, open,
			pipeline.Step{Name: "widen", Message: pipeline.GrantAccess, Table: "account", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Handler: "widen"},
			pipeline.Step{Name: "audit", Message: pipeline.GrantAccess, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Sync, Handler: "audit",
				PreImages: []pipeline.Image{{Name: "before", Columns: []string{"name"}}}},
			pipeline.Step{Name: "notify", Message: pipeline.RevokeAccess, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Async, Handler: "notify"},
		)
		var audited []*pipeline.Execution
		b.h["widen"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			pa := ex.InputParameters["PrincipalAccess"].(map[string]any)
			pa["AccessMask"] = pa["AccessMask"].(tables.AccessRights) | tables.AppendToAccess
			return nil
		})
		b.h["audit"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			audited = append(audited, ex)
			if ex.InputParameters["PrincipalAccess"].(map[string]any)["Principal"].(tables.Reference).ID == bob {
				return pipeline.Fail("bob may not see accounts")
			}
			return nil
		})
		acc, err := b.create(t, "account", map[string]any{"name": "Contoso"})
		require.NoError(t, err)

		_, err = b.share(t, pipeline.GrantAccess, acc.ID, alice, tables.ReadAccess)
		require.NoError(t, err)
		require.Equal(t, map[uuid.UUID]tables.AccessRights{alice: tables.ReadAccess | tables.AppendToAccess}, b.shares(t, "account", acc.ID),
			"a PreOperation step changed the rights")
		require.Len(t, audited, 1)
		require.Equal(t, "Contoso", audited[0].PreImages["before"]["name"])
		require.Empty(t, audited[0].PostImages)

		head := b.head(t)
		_, err = b.share(t, pipeline.GrantAccess, acc.ID, bob, tables.ReadAccess)
		requireCode(t, err, errcode.HandlerFailed)
		require.ErrorContains(t, err, "bob may not see accounts")
		require.NotContains(t, b.shares(t, "account", acc.ID), bob, "rolled back")
		require.Equal(t, head, b.head(t))

		_, err = b.share(t, pipeline.RevokeAccess, acc.ID, alice, 0)
		require.NoError(t, err)
		evs := b.events(t, "account/"+acc.ID.String())
		require.Equal(t, "account.RevokeAccess", evs[len(evs)-1].Type)
		require.Contains(t, string(evs[len(evs)-1].Data), `"asyncSteps":["notify"]`)

		// A step that breaks the PrincipalAccess fails the message.
		b.h["widen"] = pipeline.HandlerFunc(func(ctx context.Context, ex *pipeline.Execution) error {
			ex.InputParameters["PrincipalAccess"] = "everyone"
			return nil
		})
		_, err = b.share(t, pipeline.GrantAccess, acc.ID, alice, tables.ReadAccess)
		requireCode(t, err, errcode.HandlerFailed)
		require.ErrorContains(t, err, "a handler set PrincipalAccess")
		require.Empty(t, b.shares(t, "account", acc.ID))
	})
}

func TestShareStepRules(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		step pipeline.Step
		want string
	}{
		{"post image", pipeline.Step{Name: "s", Message: pipeline.ModifyAccess, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Sync, Handler: "h",
			PostImages: []pipeline.Image{{Name: "after"}}}, "a ModifyAccess changes the row's shares, not its columns, so it has no post image"},
		{"filtering columns", pipeline.Step{Name: "s", Message: pipeline.GrantAccess, Table: "account", Stage: pipeline.PostOperation, Mode: pipeline.Sync, Handler: "h",
			FilteringColumns: []string{"name"}}, "filtering columns apply to Update steps only"},
		{"organization-owned", pipeline.Step{Name: "s", Message: pipeline.RevokeAccess, Table: "store", Stage: pipeline.PostOperation, Mode: pipeline.Async, Handler: "h"},
			"table store is organization-owned"},
		{"assign on organization-owned", pipeline.Step{Name: "s", Message: pipeline.Assign, Table: "store", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Handler: "h"},
			"so a step on Assign never runs"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := pipeline.NewDefinitions([]tables.Table{account, contact, store}, nil, []pipeline.Step{tt.step})
			require.ErrorContains(t, err, tt.want)
		})
	}
	ok := pipeline.Step{Name: "s", Message: pipeline.GrantAccess, Table: "account", Stage: pipeline.PreValidation, Mode: pipeline.Sync, Handler: "h",
		PreImages: []pipeline.Image{{Name: "before"}}}
	_, err := pipeline.NewDefinitions([]tables.Table{account}, nil, []pipeline.Step{ok})
	require.NoError(t, err, "a pre image has the row")
}

func TestRebuildRestoresShares(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := shareSetup(t, open)
		ctx := context.Background()
		var ids []uuid.UUID
		for range 3 {
			r, err := b.create(t, "account", map[string]any{"name": "acc"})
			require.NoError(t, err)
			ids = append(ids, r.ID)
		}
		for _, op := range []struct {
			message   string
			row       int
			principal uuid.UUID
			rights    tables.AccessRights
		}{
			{pipeline.GrantAccess, 0, alice, tables.ReadAccess},
			{pipeline.GrantAccess, 0, alice, tables.WriteAccess},
			{pipeline.GrantAccess, 0, bob, tables.ShareAccess},
			{pipeline.ModifyAccess, 1, alice, tables.DeleteAccess},
			{pipeline.GrantAccess, 2, bob, tables.ReadAccess},
			{pipeline.RevokeAccess, 0, bob, 0},
		} {
			_, err := b.share(t, op.message, ids[op.row], op.principal, op.rights)
			require.NoError(t, err)
		}
		_, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: ids[1], Target: map[string]any{"city": "Oslo"}, Caller: user})
		require.NoError(t, err)
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Delete, Table: "account", ID: ids[2], Caller: user})
		require.NoError(t, err)

		snapshot := func() (map[uuid.UUID][]tables.Share, []tables.Row) {
			out := map[uuid.UUID][]tables.Share{}
			for _, id := range ids {
				list, err := b.e.Shares(ctx, "account", id)
				require.NoError(t, err)
				out[id] = list
			}
			r, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.RetrieveMultiple, Table: "account", Caller: user})
			require.NoError(t, err)
			return out, r.Rows
		}
		shares, rows := snapshot()
		require.Len(t, shares[ids[0]], 1)
		require.Equal(t, tables.ReadAccess|tables.WriteAccess, shares[ids[0]][0].Rights)
		require.Empty(t, shares[ids[2]], "deleted with its row")
		b.head(t)
		rep, err := b.e.Rebuild(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(2), rep.Shares)
		require.Equal(t, int64(2), rep.Rows)
		againShares, againRows := snapshot()
		require.Equal(t, shares, againShares)
		require.Equal(t, rows, againRows, "versions included")
	})
}
