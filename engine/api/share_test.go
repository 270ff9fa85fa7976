package api_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/storage/storagetest"
	"github.com/bizevents/bizevents/engine/tables"
)

// grantBody is a GrantAccess or ModifyAccess body in Dataverse's shape.
func grantBody(table string, row, user uuid.UUID, mask string) string {
	return fmt.Sprintf(`{"Target":{"@odata.type":"Microsoft.Dynamics.CRM.%s","%sid":"%s"},
		"PrincipalAccess":{"Principal":{"@odata.type":"Microsoft.Dynamics.CRM.systemuser","systemuserid":"%s"},"AccessMask":%s}}`,
		table, table, row, user, mask)
}

func revokeBody(table string, row, user uuid.UUID) string {
	return fmt.Sprintf(`{"Target":{"@odata.type":"Microsoft.Dynamics.CRM.%s","%sid":"%s"},
		"Revokee":{"@odata.type":"Microsoft.Dynamics.CRM.systemuser","systemuserid":"%s"}}`, table, table, row, user)
}

// TestE2EShares shares a row over HTTP as Dataverse's Web API does, on
// both backends, and checks the shares, the row's version and the events;
// then sends what must fail and checks that nothing was written.
func TestE2EShares(t *testing.T) {
	t.Parallel()
	storagetest.ForEach(t, func(t *testing.T, open storagetest.Opener) {
		b := e2eSetup(t, open)
		row := b.create(t, "e2e_customers", `{"name":"Contoso"}`)
		store := b.create(t, "e2e_stores", `{"name":"Main street"}`)
		alice, bob := uuid.New(), uuid.New()
		shares := func() map[uuid.UUID]tables.AccessRights {
			list, err := b.engine.Shares(t.Context(), "e2e_customer", row)
			require.NoError(t, err)
			out := map[uuid.UUID]tables.AccessRights{}
			for _, s := range list {
				out[s.Principal] = s.Rights
			}
			return out
		}

		r := b.do(t, http.MethodPost, "/GrantAccess", grantBody("e2e_customer", row, alice, `"ReadAccess, WriteAccess"`))
		r.requireStatus(t, http.StatusNoContent)
		require.Empty(t, r.body)
		b.do(t, http.MethodPost, "/GrantAccess", grantBody("e2e_customer", row, alice, `"AppendToAccess"`)).requireStatus(t, http.StatusNoContent)
		b.do(t, http.MethodPost, "/GrantAccess", grantBody("e2e_customer", row, bob, `262144`)).requireStatus(t, http.StatusNoContent)
		require.Equal(t, map[uuid.UUID]tables.AccessRights{
			alice: tables.ReadAccess | tables.WriteAccess | tables.AppendToAccess, bob: tables.ShareAccess,
		}, shares(), "GrantAccess adds rights")
		b.do(t, http.MethodPost, "/ModifyAccess", grantBody("e2e_customer", row, alice, `"DeleteAccess"`)).requireStatus(t, http.StatusNoContent)
		b.do(t, http.MethodPost, "/RevokeAccess", revokeBody("e2e_customer", row, bob)).requireStatus(t, http.StatusNoContent)
		require.Equal(t, map[uuid.UUID]tables.AccessRights{alice: tables.DeleteAccess}, shares(), "ModifyAccess replaces, RevokeAccess removes")

		got := b.get(t, "e2e_customers", row, "")
		require.Equal(t, `W/"6"`, got["@odata.etag"], "each share is an event on the row's stream")
		evs := b.stream(t, "e2e_customer/"+row.String())
		var types []string
		for _, ev := range evs {
			types = append(types, ev.Type)
		}
		require.Equal(t, []string{"e2e_customer.Create", "e2e_customer.GrantAccess", "e2e_customer.GrantAccess", "e2e_customer.GrantAccess",
			"e2e_customer.ModifyAccess", "e2e_customer.RevokeAccess"}, types)
		d := e2eData(t, evs[4])
		require.Equal(t, "ModifyAccess", d.MessageName)
		require.Equal(t, map[string]any{"Principal": map[string]any{"table": "systemuser", "id": alice.String()}, "AccessMask": "DeleteAccess"},
			d.InputParameters["PrincipalAccess"])
		require.Equal(t, map[string]any{"table": "systemuser", "id": bob.String()}, e2eData(t, evs[5]).InputParameters["Revokee"])

		before := b.state(t)
		target := fmt.Sprintf(`{"@odata.type":"Microsoft.Dynamics.CRM.e2e_customer","e2e_customerid":"%s"}`, row)
		user := fmt.Sprintf(`{"@odata.type":"Microsoft.Dynamics.CRM.systemuser","systemuserid":"%s"}`, alice)
		for _, tt := range []struct {
			name, path, body string
			status           int
			code             errcode.Code
			mentions         string
		}{
			{"unknown right", "/GrantAccess", grantBody("e2e_customer", row, alice, `"ReadAccess, FlyAccess"`), 400, errcode.InvalidValue, `unknown access right "FlyAccess"`},
			{"create access", "/GrantAccess", grantBody("e2e_customer", row, alice, `"CreateAccess"`), 400, errcode.InvalidValue, "CreateAccess is a right on a table"},
			{"no rights", "/ModifyAccess", grantBody("e2e_customer", row, alice, `"None"`), 400, errcode.InvalidArgument, "ModifyAccess needs at least one access right"},
			{"mask of another type", "/GrantAccess", grantBody("e2e_customer", row, alice, `true`), 400, errcode.InvalidValue, "AccessMask must be the rights' names"},
			{"organization-owned", "/GrantAccess", grantBody("e2e_store", store, alice, `"ReadAccess"`), 400, errcode.InvalidArgument, "table e2e_store is organization-owned"},
			{"missing row", "/GrantAccess", grantBody("e2e_customer", uuid.New(), alice, `"ReadAccess"`), 404, errcode.NotFound, "does not exist"},
			{"bad row GUID", "/RevokeAccess", `{"Target":{"@odata.type":"Microsoft.Dynamics.CRM.e2e_customer","e2e_customerid":"12345"},"Revokee":` + user + `}`,
				400, errcode.InvalidValue, `Target.e2e_customerid: "12345" is not a GUID`},
			{"bad user GUID", "/RevokeAccess", `{"Target":` + target + `,"Revokee":{"@odata.type":"Microsoft.Dynamics.CRM.systemuser","systemuserid":"alice"}}`,
				400, errcode.InvalidValue, `Revokee.systemuserid: "alice" is not a GUID`},
			{"team", "/GrantAccess", `{"Target":` + target + `,"PrincipalAccess":{"Principal":{"@odata.type":"Microsoft.Dynamics.CRM.team","teamid":"` + alice.String() + `"},"AccessMask":"ReadAccess"}}`,
				400, errcode.NotSupported, "sharing with a team is not supported"},
			{"unknown table", "/GrantAccess", grantBody("nope", row, alice, `"ReadAccess"`), 404, errcode.NotFound, `no table is named "nope"`},
			{"no type", "/RevokeAccess", `{"Target":{"e2e_customerid":"` + row.String() + `"},"Revokee":` + user + `}`, 400, errcode.InvalidArgument, `Target needs its "@odata.type"`},
			{"no Revokee", "/RevokeAccess", `{"Target":` + target + `}`, 400, errcode.InvalidArgument, "RevokeAccess needs Target and Revokee"},
			{"unknown parameter", "/GrantAccess", `{"Target":` + target + `,"PrincipalAccess":{"Principal":` + user + `,"AccessMask":"ReadAccess"},"Note":"x"}`,
				400, errcode.InvalidArgument, `"Note" is not one of its parameters`},
			{"Revokee on GrantAccess", "/GrantAccess", revokeBody("e2e_customer", row, alice), 400, errcode.InvalidArgument, `"Revokee" is not one of its parameters`},
			{"not JSON", "/GrantAccess", `{"Target":`, 400, errcode.InvalidArgument, "not valid JSON"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				b.do(t, http.MethodPost, tt.path, tt.body).requireError(t, tt.status, tt.code, tt.mentions)
			})
		}
		r = b.do(t, http.MethodGet, "/GrantAccess", "")
		r.requireError(t, http.StatusMethodNotAllowed, errcode.MethodNotAllowed)
		require.Equal(t, "POST", r.header.Get("Allow"))
		b.requireUnchanged(t, before)
		require.Equal(t, map[uuid.UUID]tables.AccessRights{alice: tables.DeleteAccess}, shares())
	})
}
