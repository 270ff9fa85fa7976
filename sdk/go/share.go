package sdk

import (
	"strconv"
	"strings"
)

// AccessRights is a set of rights on a row, Dataverse's AccessRights
// flags with Dataverse's values: what GrantAccess and ModifyAccess give a
// principal. Combine them with |.
type AccessRights uint32

// The access rights a share may hold. (CreateAccess, 0x20, is a right on
// a table, not on a row: a share cannot hold it.)
const (
	ReadAccess     AccessRights = 0x1
	WriteAccess    AccessRights = 0x2
	AppendAccess   AccessRights = 0x4
	AppendToAccess AccessRights = 0x10
	DeleteAccess   AccessRights = 0x10000
	ShareAccess    AccessRights = 0x40000
	AssignAccess   AccessRights = 0x80000
)

var accessRightNames = []struct {
	right AccessRights
	name  string
}{
	{ReadAccess, "ReadAccess"},
	{WriteAccess, "WriteAccess"},
	{AppendAccess, "AppendAccess"},
	{AppendToAccess, "AppendToAccess"},
	{0x20, "CreateAccess"},
	{DeleteAccess, "DeleteAccess"},
	{ShareAccess, "ShareAccess"},
	{AssignAccess, "AssignAccess"},
}

// String writes the rights as the host does in a context
// ("ReadAccess, WriteAccess", "None" for none; unknown bits in hex).
func (r AccessRights) String() string {
	if r == 0 {
		return "None"
	}
	var b strings.Builder
	rest := r
	for _, n := range accessRightNames {
		if r&n.right != 0 {
			if b.Len() > 0 {
				b.WriteString(", ")
			}
			b.WriteString(n.name)
			rest &^= n.right
		}
	}
	if rest != 0 {
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString("0x" + strconv.FormatUint(uint64(rest), 16))
	}
	return b.String()
}

// ParseAccessRights reads rights as the host writes them in a context
// (input/PrincipalAccess/AccessMask: "ReadAccess, WriteAccess"): names
// separated by commas, with or without the Access suffix, in any case, or
// "None". An unknown name is an *Error with code invalid_value.
func ParseAccessRights(s string) (AccessRights, error) {
	var r AccessRights
	if strings.TrimSpace(s) == "" {
		return 0, nil
	}
	for _, part := range strings.Split(s, ",") {
		name := strings.TrimSpace(part)
		if strings.EqualFold(name, "None") {
			continue
		}
		found := false
		for _, n := range accessRightNames {
			if strings.EqualFold(name, n.name) || strings.EqualFold(name+"Access", n.name) {
				r |= n.right
				found = true
				break
			}
		}
		if !found {
			return 0, &Error{Code: "invalid_value", Message: "access rights " + strconv.Quote(s) + ": unknown right " + strconv.Quote(name)}
		}
	}
	return r, nil
}

// GrantAccess shares a row of a user-owned table with a principal (a
// systemuser's id), adding rights to those the principal's share has.
func (s *Service) GrantAccess(table, id, principal string, rights AccessRights) error {
	_, err := s.Send(Request{Message: "GrantAccess", Table: table, ID: id, Principal: principal, AccessRights: rights})
	return err
}

// ModifyAccess makes the principal's share of a row hold exactly rights.
func (s *Service) ModifyAccess(table, id, principal string, rights AccessRights) error {
	_, err := s.Send(Request{Message: "ModifyAccess", Table: table, ID: id, Principal: principal, AccessRights: rights})
	return err
}

// RevokeAccess removes the principal's share of a row (a principal with
// none is fine: nothing changes).
func (s *Service) RevokeAccess(table, id, principal string) error {
	_, err := s.Send(Request{Message: "RevokeAccess", Table: table, ID: id, Principal: principal})
	return err
}
