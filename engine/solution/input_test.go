package solution_test

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/inputs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

var inputsDir = filepath.Join("testdata", "valid", "inputs")

func TestLoadInputs(t *testing.T) {
	t.Parallel()
	s, err := solution.Load(inputsDir)
	require.NoError(t, err)
	require.Len(t, s.Inputs, 2)
	require.Equal(t, []string{"erp_imports", "erp_invoices"}, []string{s.Inputs[0].Name, s.Inputs[1].Name}, "sorted by name")

	env := map[string]string{"ERP_AMQP_URL": "amqp://erp:s3cret@rabbit:5672/erp"}
	ins, skipped, err := solution.Inputs([]*solution.Solution{s}, func(name string) string { return env[name] })
	require.NoError(t, err)
	require.Empty(t, skipped)
	require.Equal(t, []inputs.Input{
		{Name: "erp_imports", Kind: inputs.KindStream, URL: "nats://nats:4222", Subject: "erp.imports.*", Stream: "ERP",
			DeadLetter: "erp.deadletter.imports", Message: "erp_AccountsImported", Table: "account"},
		{Name: "erp_invoices", Kind: inputs.KindQueue, URL: "amqp://erp:s3cret@rabbit:5672/erp", Queue: "erp.invoices",
			Message: "erp_InvoicePosted", User: uuid.MustParse("7d9f1b2c-3a4e-4f50-9a61-0b2c3d4e5f60")},
	}, ins, "env: read when the input starts; a TableCollection API's table")
	for _, in := range ins {
		require.NoError(t, in.Validate())
	}

	// Without the URL's variable the input is not configured: skipped, not
	// an error; the others still run.
	ins, skipped, err = solution.Inputs([]*solution.Solution{s}, func(string) string { return "" })
	require.NoError(t, err)
	require.Equal(t, []string{"erp_imports"}, []string{ins[0].Name})
	require.Len(t, ins, 1)
	require.Equal(t, []solution.SkippedInput{{Solution: "input_fixture", Input: "erp_invoices", Variable: "ERP_AMQP_URL"}}, skipped)
	require.Equal(t, "solution input_fixture: input erp_invoices is not configured (environment variable ERP_AMQP_URL of its url is not set), skipped", skipped[0].String())

	// A variable of a configured input that is not set is an error naming it.
	queued := *s
	queued.Inputs = slices.Clone(s.Inputs)
	queued.Inputs[1].Queue = "env:ERP_QUEUE"
	_, _, err = solution.Inputs([]*solution.Solution{&queued}, func(name string) string { return env[name] })
	require.ErrorContains(t, err, "solution input_fixture: input erp_invoices: environment variable ERP_QUEUE is not set")

	// The definition keeps env:NAME, never the value.
	d := s.Definition()
	require.Equal(t, "env:ERP_AMQP_URL", d.Inputs[1].URL)
}

func TestInputsEncodeDecodeDiff(t *testing.T) {
	t.Parallel()
	s, err := solution.Load(inputsDir)
	require.NoError(t, err)
	data, err := solution.Encode(s)
	require.NoError(t, err)
	back, err := solution.Decode(data)
	require.NoError(t, err)
	want := *s
	want.Files = 0
	require.Equal(t, &want, back)
	require.Empty(t, solution.Diff(s, back))

	back.Inputs[1].Queue = "erp.invoices.v2"
	back.Inputs = slices.DeleteFunc(back.Inputs, func(d solution.InputDef) bool { return d.Name == "erp_imports" })
	back.Inputs = append(back.Inputs, solution.InputDef{Name: "pos_sales", Kind: "stream", URL: "nats://nats:4222", Subject: "pos.sales", Message: "erp_InvoicePosted"})
	back, err = solution.Decode(mustEncode(t, back))
	require.NoError(t, err)
	got := solution.Diff(s, back).String()
	require.Contains(t, got, "input erp_invoices")
	require.Contains(t, got, "erp.invoices.v2")
	require.Contains(t, got, "removed input erp_imports")
	require.Contains(t, got, "added input pos_sales")

	for name, def := range map[string]string{
		"function": `{"name":"x","version":"1.0","customApis":[{"uniqueName":"x_F","isFunction":true}],
			"inputs":[{"name":"i","kind":"queue","url":"amqp://h/","queue":"q","message":"x_F"}]}`,
		"unknown": `{"name":"x","version":"1.0","inputs":[{"name":"i","kind":"stream","url":"nats://h","subject":"s","message":"x_None"}]}`,
	} {
		_, err := solution.Decode([]byte(def))
		require.Equal(t, errcode.InvalidSolution, errcode.Of(err), name)
		require.ErrorContains(t, err, "input i: ")
	}
}

func TestImportRefusesAnInputOfTwoSolutions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := storagetest.SQLite(t, append(append([]storage.Migration{}, tables.Migrations...), solution.Migrations...)...)
	first, err := solution.Load(inputsDir)
	require.NoError(t, err)
	_, err = solution.Import(ctx, db, first, pipeline.Caller{})
	require.NoError(t, err)

	// Another solution with an input of the same name: the durable
	// consumer would be shared.
	in := first.Inputs[1]
	in.Message = "other_Ping"
	other := &solution.Solution{Name: "other_solution", Version: "1.0.0",
		CustomAPIs: []customapi.API{{UniqueName: "other_Ping", AllowedStepType: customapi.StepsAsyncOnly}}, Inputs: []solution.InputDef{in}}
	other, err = solution.Decode(mustEncode(t, other))
	require.NoError(t, err)
	_, err = solution.Import(ctx, db, other, pipeline.Caller{})
	require.Error(t, err)
	require.Contains(t, err.Error(), "input erp_invoices is defined by solutions input_fixture and other_solution")
}
