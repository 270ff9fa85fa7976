package pipeline_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

func TestRebuildMakesTheSameRows(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := setup(t, open)
		ctx := context.Background()
		var ids []uuid.UUID
		for i := range 5 {
			r, err := b.create(t, "account", map[string]any{"name": "acc", "credit": json.Number("1"), "revenue": json.Number("10.25")})
			require.NoError(t, err)
			ids = append(ids, r.ID)
			_, err = b.create(t, "contact", map[string]any{"lastname": "c", "parentcustomerid": r.ID.String()})
			require.NoError(t, err)
			if i%2 == 0 {
				_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Update, Table: "account", ID: r.ID, Caller: user, Target: map[string]any{"city": "Oslo", "credit": nil}})
				require.NoError(t, err)
			}
		}
		_, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.Assign, Table: "account", ID: ids[1], Owner: uuid.New(), Caller: user})
		require.NoError(t, err)
		_, err = b.e.Execute(ctx, pipeline.Request{Message: pipeline.Delete, Table: "account", ID: ids[3], Caller: user})
		require.NoError(t, err)

		snapshot := func() map[string][]tables.Row {
			out := map[string][]tables.Row{}
			for _, table := range []string{"account", "contact"} {
				r, err := b.e.Execute(ctx, pipeline.Request{Message: pipeline.RetrieveMultiple, Table: table, Caller: user})
				require.NoError(t, err)
				out[table] = r.Rows
			}
			return out
		}
		before := snapshot()
		require.Len(t, before["account"], 4)
		b.head(t)
		rep, err := b.e.Rebuild(ctx)
		require.NoError(t, err)
		require.Equal(t, int64(9), rep.Rows)
		require.Equal(t, int64(15), rep.Events)
		require.Equal(t, before, snapshot())
	})
}

func TestDefinitionsRefuseBadSteps(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		step pipeline.Step
		want string
	}{
		{"sync on AsyncOnly", pipeline.Step{Name: "s", Message: "contoso_CustomerPurchase", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Handler: "h"}, "allows async steps only"},
		{"any on None", pipeline.Step{Name: "s", Message: "contoso_Touch", Stage: pipeline.PostOperation, Mode: pipeline.Async, Handler: "h"}, "allows no steps"},
		{"unknown table", pipeline.Step{Name: "s", Message: pipeline.Create, Table: "nope", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Handler: "h"}, "not defined"},
		{"unknown message", pipeline.Step{Name: "s", Message: "Frobnicate", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Handler: "h"}, "neither"},
		{"filtering column", pipeline.Step{Name: "s", Message: pipeline.Update, Table: "account", Stage: pipeline.PreOperation, Mode: pipeline.Sync, Handler: "h", FilteringColumns: []string{"colour"}}, "filtering column"},
		{"async before commit", pipeline.Step{Name: "s", Message: pipeline.Create, Table: "account", Stage: pipeline.PreOperation, Mode: pipeline.Async, Handler: "h"}, "stage 40"},
		{"main operation stage", pipeline.Step{Name: "s", Message: pipeline.Create, Table: "account", Stage: pipeline.MainOperation, Mode: pipeline.Sync, Handler: "h"}, "main operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := pipeline.NewDefinitions([]tables.Table{account, contact}, []customapi.API{purchase, score, lookupName}, []pipeline.Step{tt.step})
			require.ErrorContains(t, err, tt.want)
		})
	}
}
