package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// serveShare serves Dataverse's unbound actions that share a row of a
// user-owned table with a user, POST with the parameters in the body:
//
//	POST /GrantAccess   {"Target": <row>, "PrincipalAccess": {"Principal": <user>, "AccessMask": "ReadAccess, WriteAccess"}}
//	POST /ModifyAccess  (the same)
//	POST /RevokeAccess  {"Target": <row>, "Revokee": <user>}
//
// where <row> is {"@odata.type": "Microsoft.Dynamics.CRM.<table>",
// "<primary key>": "<id>"} and <user> {"@odata.type":
// "Microsoft.Dynamics.CRM.systemuser", "systemuserid": "<id>"}. The
// AccessMask is the right names separated by commas (or their bits as a
// number). 204 on success.
func (h *Handler) serveShare(w http.ResponseWriter, c *call, message string, seg segment) error {
	if c.r.Method != http.MethodPost {
		return notAllowed(c.r.Method, "action "+message, http.MethodPost)
	}
	if seg.parens {
		return errorf(errcode.InvalidArgument, "action %s takes its parameters in the body, not in parentheses", message)
	}
	body, err := h.readObject(w, c.r)
	if err != nil {
		return err
	}
	params := []string{"Target", "PrincipalAccess"}
	if message == pipeline.RevokeAccess {
		params = []string{"Target", "Revokee"}
	}
	for _, k := range sortedNames(body) {
		if !slices.Contains(params, k) && !strings.HasPrefix(k, "@") {
			return errorf(errcode.InvalidArgument, "%s takes %s; %q is not one of its parameters", message, strings.Join(params, " and "), k)
		}
	}
	for _, k := range params {
		if _, ok := body[k]; !ok {
			return errorf(errcode.InvalidArgument, "%s needs %s", message, strings.Join(params, " and "))
		}
	}
	t, id, err := h.shareTarget(body["Target"])
	if err != nil {
		return err
	}
	req := pipeline.Request{Message: message, Table: t.LogicalName, ID: id}
	if message == pipeline.RevokeAccess {
		if req.Principal, err = systemUserRef("Revokee", body["Revokee"]); err != nil {
			return err
		}
	} else {
		pa, ok := body["PrincipalAccess"].(map[string]any)
		if !ok {
			return errorf(errcode.InvalidArgument, "PrincipalAccess must be an object with Principal and AccessMask")
		}
		for k := range pa {
			if k != "Principal" && k != "AccessMask" && !strings.HasPrefix(k, "@") {
				return errorf(errcode.InvalidArgument, "PrincipalAccess has Principal and AccessMask; %q is not one of them", k)
			}
		}
		if req.Principal, err = systemUserRef("PrincipalAccess.Principal", pa["Principal"]); err != nil {
			return err
		}
		if req.AccessRights, err = accessMask(pa["AccessMask"]); err != nil {
			return err
		}
	}
	if _, err := h.execute(c, req); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// shareTarget reads a share's Target: the row's @odata.type and primary
// key.
func (h *Handler) shareTarget(v any) (*tables.Table, uuid.UUID, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, uuid.Nil, errorf(errcode.InvalidArgument, `Target must be an object: {"@odata.type": "Microsoft.Dynamics.CRM.<table>", "<table>id": "<id>"}`)
	}
	name, ok := odataType(obj)
	if !ok {
		return nil, uuid.Nil, errorf(errcode.InvalidArgument, `Target needs its "@odata.type": "Microsoft.Dynamics.CRM.<table>"`)
	}
	t, ok := h.deps.Metadata.Table(name)
	if !ok {
		return nil, uuid.Nil, errorf(errcode.NotFound, "Target: no table is named %q", name)
	}
	for k := range obj {
		if k != t.PrimaryKey && !strings.HasPrefix(k, "@") {
			return nil, uuid.Nil, errorf(errcode.InvalidArgument, "Target names the row by its @odata.type and %s only; %q is not needed", t.PrimaryKey, k)
		}
	}
	id, err := guidValue("Target."+t.PrimaryKey, obj[t.PrimaryKey])
	return t, id, err
}

// systemUserRef reads a reference to a user: {"@odata.type":
// "Microsoft.Dynamics.CRM.systemuser", "systemuserid": "<id>"}.
func systemUserRef(what string, v any) (uuid.UUID, error) {
	obj, ok := v.(map[string]any)
	if !ok {
		return uuid.Nil, errorf(errcode.InvalidArgument, `%s must be a user: {"@odata.type": "Microsoft.Dynamics.CRM.%s", "%sid": "<id>"}`, what, systemUser, systemUser)
	}
	if name, ok := odataType(obj); ok && name != systemUser {
		if name == "team" {
			return uuid.Nil, errorf(errcode.NotSupported, "%s: sharing with a team is not supported; share with a %s", what, systemUser)
		}
		return uuid.Nil, errorf(errcode.InvalidArgument, "%s is a %s: a row is shared with a %s", what, name, systemUser)
	}
	for k := range obj {
		if k != systemUser+"id" && !strings.HasPrefix(k, "@") {
			return uuid.Nil, errorf(errcode.InvalidArgument, "%s names the user by %sid only; %q is not needed", what, systemUser, k)
		}
	}
	return guidValue(what+"."+systemUser+"id", obj[systemUser+"id"])
}

// odataType returns the logical name in an object's "@odata.type".
func odataType(obj map[string]any) (string, bool) {
	s, ok := obj["@odata.type"].(string)
	if !ok {
		return "", false
	}
	name, ok := strings.CutPrefix(strings.TrimPrefix(s, "#"), crmNamespace)
	return name, ok && name != ""
}

// guidValue reads a GUID string; a missing one is invalid_argument, a
// malformed one invalid_value.
func guidValue(what string, v any) (uuid.UUID, error) {
	if v == nil {
		return uuid.Nil, errorf(errcode.InvalidArgument, "%s is missing", what)
	}
	s, ok := v.(string)
	if !ok {
		return uuid.Nil, errorf(errcode.InvalidValue, "%s must be a GUID string", what)
	}
	id, err := uuid.Parse(s)
	if err != nil || len(s) != 36 {
		return uuid.Nil, errorf(errcode.InvalidValue, "%s: %q is not a GUID", what, s)
	}
	if id == uuid.Nil {
		return uuid.Nil, errorf(errcode.InvalidValue, "%s must not be the nil GUID", what)
	}
	return id, nil
}

// accessMask reads an AccessMask: the right names separated by commas, or
// their bits as a number.
func accessMask(v any) (tables.AccessRights, error) {
	switch x := v.(type) {
	case string:
		return tables.ParseAccessRights(x)
	case json.Number:
		var r tables.AccessRights
		if err := r.UnmarshalJSON([]byte(x)); err != nil {
			return 0, err
		}
		return r, nil
	case nil:
		return 0, errorf(errcode.InvalidArgument, "PrincipalAccess.AccessMask is missing: the rights, e.g. \"ReadAccess, WriteAccess\"")
	}
	return 0, errorf(errcode.InvalidValue, "PrincipalAccess.AccessMask must be the rights' names, e.g. \"ReadAccess, WriteAccess\", not %s", describeJSON(v))
}

func describeJSON(v any) string {
	switch v.(type) {
	case bool:
		return "a boolean"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func sortedNames(m map[string]any) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
