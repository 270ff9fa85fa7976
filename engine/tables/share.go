package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/storage"
)

// AccessRights is a set of rights on a row, as Dataverse's AccessRights
// flags: the AccessMask of GrantAccess and ModifyAccess. The values are
// Dataverse's, so that a mask written as a number means the same there and
// here.
type AccessRights uint32

// The access rights. CreateAccess is a right on a table, not on a row, so
// it cannot be shared; [ShareableRights] are those a share may hold.
const (
	ReadAccess     AccessRights = 0x1
	WriteAccess    AccessRights = 0x2
	AppendAccess   AccessRights = 0x4
	AppendToAccess AccessRights = 0x10
	CreateAccess   AccessRights = 0x20
	DeleteAccess   AccessRights = 0x10000
	ShareAccess    AccessRights = 0x40000
	AssignAccess   AccessRights = 0x80000

	// ShareableRights are the rights a share of a row may hold.
	ShareableRights = ReadAccess | WriteAccess | AppendAccess | AppendToAccess | DeleteAccess | ShareAccess | AssignAccess
)

// accessRightNames are the rights' names in bit order, as Dataverse's Web
// API writes a flags value ("ReadAccess, WriteAccess").
var accessRightNames = []struct {
	right AccessRights
	name  string
}{
	{ReadAccess, "ReadAccess"},
	{WriteAccess, "WriteAccess"},
	{AppendAccess, "AppendAccess"},
	{AppendToAccess, "AppendToAccess"},
	{CreateAccess, "CreateAccess"},
	{DeleteAccess, "DeleteAccess"},
	{ShareAccess, "ShareAccess"},
	{AssignAccess, "AssignAccess"},
}

// ShareableRightNames lists the names a share's rights may be given by.
func ShareableRightNames() []string {
	var names []string
	for _, n := range accessRightNames {
		if n.right&ShareableRights != 0 {
			names = append(names, n.name)
		}
	}
	return names
}

// ParseAccessRights reads an AccessMask: right names separated by commas,
// as Dataverse's Web API writes a flags enum ("ReadAccess, WriteAccess"),
// each with or without the Access suffix and in any case ("read, Write"),
// or "None" for no rights. An unknown name is an *AccessRightsError
// (errcode.InvalidValue). It does not check that the rights can be shared:
// see [AccessRights.CheckShareable].
func ParseAccessRights(s string) (AccessRights, error) {
	var r AccessRights
	for part := range strings.SplitSeq(s, ",") {
		name := strings.TrimSpace(part)
		if name == "" {
			if strings.TrimSpace(s) == "" {
				break
			}
			return 0, &AccessRightsError{Input: s, Reason: "an empty name between commas"}
		}
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
			return 0, &AccessRightsError{Input: s, Reason: fmt.Sprintf("unknown access right %q (want %s)", name, strings.Join(ShareableRightNames(), ", "))}
		}
	}
	return r, nil
}

// String writes the rights as Dataverse's Web API does, in bit order
// ("ReadAccess, WriteAccess"), "None" for none; unknown bits are written
// as a hex number.
func (r AccessRights) String() string {
	if r == 0 {
		return "None"
	}
	var names []string
	rest := r
	for _, n := range accessRightNames {
		if r&n.right != 0 {
			names = append(names, n.name)
			rest &^= n.right
		}
	}
	if rest != 0 {
		names = append(names, "0x"+strconv.FormatUint(uint64(rest), 16))
	}
	return strings.Join(names, ", ")
}

// Names lists the rights by name, in bit order; nil for none.
func (r AccessRights) Names() []string {
	var names []string
	for _, n := range accessRightNames {
		if r&n.right != 0 {
			names = append(names, n.name)
		}
	}
	return names
}

// Count is how many rights the set holds.
func (r AccessRights) Count() int { return bits.OnesCount32(uint32(r)) }

// CheckShareable returns an *AccessRightsError when the set holds a right
// a share cannot hold (CreateAccess, unknown bits).
func (r AccessRights) CheckShareable() error {
	if r&CreateAccess != 0 {
		return &AccessRightsError{Input: r.String(), Reason: "CreateAccess is a right on a table, not on a row: a share cannot hold it"}
	}
	if extra := r &^ ShareableRights; extra != 0 {
		return &AccessRightsError{Input: r.String(), Reason: fmt.Sprintf("unknown access right bits 0x%x (want %s)", uint32(extra), strings.Join(ShareableRightNames(), ", "))}
	}
	return nil
}

// MarshalJSON writes the rights as their names, "ReadAccess, WriteAccess".
func (r AccessRights) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }

// UnmarshalJSON reads the names ParseAccessRights reads, or a number (the
// bits).
func (r *AccessRights) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := ParseAccessRights(s)
		if err != nil {
			return err
		}
		*r = v
		return nil
	}
	var n uint32
	if err := json.Unmarshal(b, &n); err != nil {
		return &AccessRightsError{Input: string(b), Reason: "want the right names as a string, e.g. \"ReadAccess, WriteAccess\", or their bits as a number"}
	}
	*r = AccessRights(n)
	return nil
}

// AccessRightsError is an AccessMask that does not parse or cannot be
// shared. Its code is errcode.InvalidValue.
type AccessRightsError struct {
	Input  string
	Reason string
}

func (e *AccessRightsError) Error() string {
	return fmt.Sprintf("access mask %q: %s", e.Input, e.Reason)
}

// ErrorCode is errcode.InvalidValue.
func (e *AccessRightsError) ErrorCode() errcode.Code { return errcode.InvalidValue }

// Share is a principal's rights on a row, granted by GrantAccess or
// ModifyAccess: the PrincipalObjectAccess of Dataverse.
type Share struct {
	Table string
	Row   uuid.UUID
	// Principal is the user the row is shared with.
	Principal uuid.UUID
	Rights    AccessRights
	// ModifiedOn is when the share last changed.
	ModifiedOn time.Time
}

// Shares reads and writes the shares projection in the shares table
// (created by [Migrations]): one SQL row per row and principal with the
// rights the principal holds. The pipeline writes it in the same
// transaction as the share's event, after locking the row, so the writes
// of one row's shares never race. A Shares is safe for concurrent use.
type Shares struct{}

// NewShares returns a Shares.
func NewShares() *Shares { return &Shares{} }

// Rights returns the rights principal holds on a row of table by its
// shares; 0 when the row is not shared with it.
func (s *Shares) Rights(ctx context.Context, q storage.Querier, table string, row, principal uuid.UUID) (AccessRights, error) {
	var r int64
	err := storage.ScanOne(ctx, q, []any{&r}, `SELECT rights FROM shares WHERE table_name = ? AND row_id = ? AND principal_id = ?`,
		table, row.String(), principal.String())
	switch {
	case errors.Is(err, storage.ErrNoRows):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("read share of %s %s with %s: %w", table, row, principal, err)
	}
	return AccessRights(r), nil
}

// Set makes principal's rights on a row of table exactly rights, at the
// time at: 0 removes the share.
func (s *Shares) Set(ctx context.Context, q storage.Querier, table string, row, principal uuid.UUID, rights AccessRights, at time.Time) error {
	var err error
	if rights == 0 {
		_, err = q.Exec(ctx, `DELETE FROM shares WHERE table_name = ? AND row_id = ? AND principal_id = ?`, table, row.String(), principal.String())
	} else {
		_, err = q.Exec(ctx, `INSERT INTO shares (table_name, row_id, principal_id, rights, modified_on) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (table_name, row_id, principal_id) DO UPDATE SET rights = excluded.rights, modified_on = excluded.modified_on`,
			table, row.String(), principal.String(), int64(rights), storage.Micros(at))
	}
	if err != nil {
		return fmt.Errorf("share %s %s with %s: %w", table, row, principal, err)
	}
	return nil
}

// List returns the shares of a row of table, by principal.
func (s *Shares) List(ctx context.Context, q storage.Querier, table string, row uuid.UUID) ([]Share, error) {
	rows, err := q.Query(ctx, `SELECT principal_id, rights, modified_on FROM shares WHERE table_name = ? AND row_id = ? ORDER BY principal_id`,
		table, row.String())
	if err != nil {
		return nil, fmt.Errorf("list shares of %s %s: %w", table, row, err)
	}
	defer rows.Close()
	var out []Share
	for rows.Next() {
		var principal string
		var rights, at int64
		if err := rows.Scan(&principal, &rights, &at); err != nil {
			return nil, fmt.Errorf("list shares of %s %s: %w", table, row, err)
		}
		p, err := uuid.Parse(principal)
		if err != nil {
			return nil, fmt.Errorf("list shares of %s %s: stored principal %q: %w", table, row, principal, err)
		}
		out = append(out, Share{Table: table, Row: row, Principal: p, Rights: AccessRights(rights), ModifiedOn: storage.FromMicros(at)})
	}
	return out, rows.Err()
}

// DeleteRow removes every share of a row of table: its row is deleted.
func (s *Shares) DeleteRow(ctx context.Context, q storage.Querier, table string, row uuid.UUID) error {
	if _, err := q.Exec(ctx, `DELETE FROM shares WHERE table_name = ? AND row_id = ?`, table, row.String()); err != nil {
		return fmt.Errorf("delete shares of %s %s: %w", table, row, err)
	}
	return nil
}

// Count returns how many shares exist, of every row.
func (s *Shares) Count(ctx context.Context, q storage.Querier) (int64, error) {
	var n int64
	if err := storage.ScanOne(ctx, q, []any{&n}, `SELECT count(*) FROM shares`); err != nil {
		return 0, fmt.Errorf("count shares: %w", err)
	}
	return n, nil
}

// Truncate deletes every share, to rebuild them from the log, and returns
// how many there were.
func (s *Shares) Truncate(ctx context.Context, q storage.Querier) (int64, error) {
	n, err := q.Exec(ctx, `DELETE FROM shares`)
	if err != nil {
		return 0, fmt.Errorf("truncate shares: %w", err)
	}
	return n, nil
}
