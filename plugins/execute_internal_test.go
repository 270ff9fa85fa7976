package plugins

import (
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/tables"
)

// TestExecuteShareRequest reads the share members of execute requests in
// every form sdk/ABI.md allows, and refuses the others with their codes.
func TestExecuteShareRequest(t *testing.T) {
	t.Parallel()
	alice := uuid.MustParse("0196d7c2-0000-7000-8000-00000000000a")
	row := `"table":"account","id":"0196d7c2-0000-7000-8000-00000000a001"`
	for _, tt := range []struct {
		name, req string
		principal uuid.UUID
		rights    tables.AccessRights
		code      errcode.Code
	}{
		{"guid and bits", `{"message":"GrantAccess",` + row + `,"principal":"` + alice.String() + `","access_rights":3}`, alice, tables.ReadAccess | tables.WriteAccess, ""},
		{"upper-case guid and names", `{"message":"ModifyAccess",` + row + `,"principal":"0196D7C2-0000-7000-8000-00000000000A","access_rights":"ReadAccess, share"}`, alice, tables.ReadAccess | tables.ShareAccess, ""},
		{"reference", `{"message":"RevokeAccess",` + row + `,"principal":{"table":"systemuser","id":"` + alice.String() + `"}}`, alice, 0, ""},
		{"null and empty are absent", `{"message":"RevokeAccess",` + row + `,"principal":"` + alice.String() + `","access_rights":null}`, alice, 0, ""},
		{"zero is absent", `{"message":"GrantAccess",` + row + `,"principal":"","access_rights":0}`, uuid.Nil, 0, ""},
		{"other table's reference", `{"message":"GrantAccess",` + row + `,"principal":{"table":"account","id":"` + alice.String() + `"},"access_rights":1}`, uuid.Nil, 0, errcode.InvalidArgument},
		{"not a guid", `{"message":"GrantAccess",` + row + `,"principal":"alice","access_rights":1}`, uuid.Nil, 0, errcode.InvalidArgument},
		{"a number principal", `{"message":"GrantAccess",` + row + `,"principal":7,"access_rights":1}`, uuid.Nil, 0, errcode.InvalidArgument},
		{"unknown right", `{"message":"GrantAccess",` + row + `,"principal":"` + alice.String() + `","access_rights":"ReadAccess, Everything"}`, uuid.Nil, 0, errcode.InvalidValue},
		{"rights of another type", `{"message":"GrantAccess",` + row + `,"principal":"` + alice.String() + `","access_rights":[1]}`, uuid.Nil, 0, errcode.InvalidValue},
		{"on another message", `{"message":"Update",` + row + `,"target":{"name":"x"},"principal":"` + alice.String() + `"}`, uuid.Nil, 0, errcode.InvalidArgument},
		{"rights on another message", `{"message":"Delete",` + row + `,"access_rights":"ReadAccess"}`, uuid.Nil, 0, errcode.InvalidArgument},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := (&call{}).request([]byte(tt.req))
			if tt.code != "" {
				require.Error(t, err)
				require.Equal(t, tt.code, errcode.Of(err), "error: %v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.principal, req.Principal)
			require.Equal(t, tt.rights, req.AccessRights)
		})
	}
}
