package tables

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/storage"
)

// Migrations create the rows table, where every table's rows are kept: one
// SQL row per row, its column values in a JSON object (data), its system
// columns in SQL columns; and the shares table of [Shares].
//
// On PostgreSQL ids are TEXT COLLATE "C", so that they sort by bytes as on
// SQLite, and the indexes serve keyset pages by id, createdon and
// modifiedon, and a user's rows.
var Migrations = []storage.Migration{{
	Component: "tables",
	Version:   1,
	Postgres: `CREATE TABLE rows (
	table_name TEXT NOT NULL,
	id TEXT COLLATE "C" NOT NULL,
	version BIGINT NOT NULL,
	owner_id TEXT COLLATE "C",
	created_on BIGINT NOT NULL,
	modified_on BIGINT NOT NULL,
	data JSONB NOT NULL,
	PRIMARY KEY (table_name, id)
);
CREATE INDEX rows_created_on ON rows (table_name, created_on, id);
CREATE INDEX rows_modified_on ON rows (table_name, modified_on, id);
CREATE INDEX rows_owner_id ON rows (table_name, owner_id, id)`,
	SQLite: `CREATE TABLE rows (
	table_name TEXT NOT NULL,
	id TEXT NOT NULL,
	version BIGINT NOT NULL,
	owner_id TEXT,
	created_on BIGINT NOT NULL,
	modified_on BIGINT NOT NULL,
	data TEXT NOT NULL,
	PRIMARY KEY (table_name, id)
);
CREATE INDEX rows_created_on ON rows (table_name, created_on, id);
CREATE INDEX rows_modified_on ON rows (table_name, modified_on, id);
CREATE INDEX rows_owner_id ON rows (table_name, owner_id, id)`,
}, {
	// The shares of rows (GrantAccess, ModifyAccess, RevokeAccess): one SQL
	// row per row and principal, the rights as Dataverse's AccessRights
	// bits; read by Shares, and by role checks by principal.
	Component: "tables",
	Version:   2,
	Postgres: `CREATE TABLE shares (
	table_name TEXT NOT NULL,
	row_id TEXT COLLATE "C" NOT NULL,
	principal_id TEXT COLLATE "C" NOT NULL,
	rights BIGINT NOT NULL,
	modified_on BIGINT NOT NULL,
	PRIMARY KEY (table_name, row_id, principal_id)
);
CREATE INDEX shares_principal ON shares (principal_id, table_name, row_id)`,
	SQLite: `CREATE TABLE shares (
	table_name TEXT NOT NULL,
	row_id TEXT NOT NULL,
	principal_id TEXT NOT NULL,
	rights BIGINT NOT NULL,
	modified_on BIGINT NOT NULL,
	PRIMARY KEY (table_name, row_id, principal_id)
);
CREATE INDEX shares_principal ON shares (principal_id, table_name, row_id)`,
}}

// Rows reads and writes the row projection in the rows table, through any
// storage.Querier: the pipeline's transaction, or the database for reads.
// It keeps what it is given: the caller (the pipeline) decides versions,
// times and owners, and checks values with CheckCreate and CheckUpdate
// first. A Rows is safe for concurrent use.
type Rows struct {
	dialect storage.Dialect
}

// NewRows returns a Rows for a database of the dialect.
func NewRows(d storage.Dialect) *Rows { return &Rows{dialect: d} }

// Write is what the pipeline tells the store about a write.
type Write struct {
	// Version is the row's version after the write: the version of the
	// row's stream after the write's event. Required.
	Version int64
	// ExpectedVersion, when positive, makes Update and SetOwner fail with a
	// *VersionConflictError, writing nothing, unless the row is at that
	// version.
	ExpectedVersion int64
	// At is the operation's time: createdon and modifiedon on Insert,
	// modifiedon on Update and SetOwner. Required.
	At time.Time
	// Owner is the row's owner on Insert and SetOwner; uuid.Nil for none
	// (an organization-owned row).
	Owner uuid.UUID
	// CreatedAt, when set, is createdon on Insert instead of At: for
	// rebuilding a row that was changed after it was created.
	CreatedAt time.Time
}

func (w Write) check() error {
	if w.Version < 1 {
		return fmt.Errorf("write: version %d must be positive", w.Version)
	}
	if w.At.IsZero() {
		return errors.New("write: no time given")
	}
	return nil
}

func ownerArg(id uuid.UUID) any {
	if id == uuid.Nil {
		return nil
	}
	return id.String()
}

const selectRow = `SELECT id, version, owner_id, created_on, modified_on, data FROM rows`

// Insert stores a new row of t with the values (as CheckCreate returns them;
// nil values are left out) and returns it as Get would. values may hold
// the primary key, which must be id, and system columns, which are ignored
// in favour of w. A row with the id already there is a *DuplicateError
// (errcode.Duplicate). On PostgreSQL a failed statement aborts the
// transaction.
func (s *Rows) Insert(ctx context.Context, q storage.Querier, t *Table, id uuid.UUID, values Row, w Write) (Row, error) {
	if err := w.check(); err != nil {
		return nil, fmt.Errorf("insert %s %s: %w", t.LogicalName, id, err)
	}
	row, set, _, err := encodeData(t, id, values)
	if err != nil {
		return nil, fmt.Errorf("insert %s %s: %w", t.LogicalName, id, err)
	}
	created := w.At
	if !w.CreatedAt.IsZero() {
		created = w.CreatedAt
	}
	data, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("insert %s %s: %w", t.LogicalName, id, err)
	}
	_, err = q.Exec(ctx, `INSERT INTO rows (table_name, id, version, owner_id, created_on, modified_on, data) VALUES (?, ?, ?, ?, ?, ?, `+s.jsonParam()+`)`,
		t.LogicalName, id.String(), w.Version, ownerArg(w.Owner), storage.Micros(created), storage.Micros(w.At), string(data))
	if errors.Is(err, storage.ErrDuplicate) {
		return nil, &DuplicateError{Table: t.LogicalName, ID: id}
	}
	if err != nil {
		return nil, fmt.Errorf("insert %s %s: %w", t.LogicalName, id, err)
	}
	row[t.primaryKey()] = id
	row[ColumnCreatedOn] = created.UTC().Truncate(time.Microsecond)
	row[ColumnModifiedOn] = w.At.UTC().Truncate(time.Microsecond)
	row[ColumnVersion] = w.Version
	if w.Owner != uuid.Nil {
		row[ColumnOwnerID] = w.Owner
	}
	return row, nil
}

func (s *Rows) jsonParam() string {
	if s.dialect == storage.Postgres {
		return "CAST(CAST(? AS TEXT) AS JSONB)"
	}
	return "?"
}

// encodeData splits values into the row's non-nil values (converted), what
// goes into data (encoded), and the columns to clear. It refuses unknown
// columns and values that do not convert, as a *ValuesError.
func encodeData(t *Table, id uuid.UUID, values Row) (Row, map[string]any, []string, error) {
	row := make(Row, len(values)+5)
	set := make(map[string]any, len(values))
	var cleared []string
	var problems []ValueProblem
	pk := t.primaryKey()
	for name, v := range values {
		if name == pk {
			if got, reason := toUUID(v); reason != "" || got != id {
				problems = append(problems, ValueProblem{Column: name, Reason: fmt.Sprintf("the primary key in the values is not the row's id %s", id)})
			}
			continue
		}
		if isSystemColumn(name) {
			continue
		}
		c, ok := t.Column(name)
		if !ok {
			problems = append(problems, ValueProblem{Column: name, Reason: "is not a column of table " + t.LogicalName})
			continue
		}
		if v == nil {
			cleared = append(cleared, name)
			continue
		}
		cv, reason := coerce(c, v)
		if reason != "" {
			problems = append(problems, ValueProblem{Column: name, Reason: reason})
			continue
		}
		ev, err := encodeValue(field{name: name, col: *c}, cv)
		if err != nil {
			problems = append(problems, ValueProblem{Column: name, Reason: err.Error()})
			continue
		}
		row[name] = cv
		set[name] = ev
	}
	if len(problems) > 0 {
		slices.SortFunc(problems, func(a, b ValueProblem) int { return strings.Compare(a.Column, b.Column) })
		return nil, nil, nil, &ValuesError{Table: t.LogicalName, Problems: problems}
	}
	slices.Sort(cleared)
	return row, set, cleared, nil
}

// Get returns a row of t with the primary key, the system columns and the
// given columns (all when none; a lookup may be named _x_value), or a
// *NotFoundError (errcode.NotFound). An unknown column is a *QueryError.
func (s *Rows) Get(ctx context.Context, q storage.Querier, t *Table, id uuid.UUID, columns []string) (Row, error) {
	sel, err := selectFields(t, columns, "$select")
	if err != nil {
		return nil, err
	}
	r, err := s.get(ctx, q, t, id, false)
	if err != nil {
		return nil, err
	}
	return project(t, r, sel), nil
}

// GetForUpdate returns a whole row of t, as Get, and locks it until the end
// of q's transaction, so that no other transaction changes it meanwhile:
// SELECT ... FOR UPDATE on PostgreSQL. On SQLite the transaction already
// holds the database's only writer, so it is a plain read.
func (s *Rows) GetForUpdate(ctx context.Context, q storage.Querier, t *Table, id uuid.UUID) (Row, error) {
	return s.get(ctx, q, t, id, true)
}

func (s *Rows) get(ctx context.Context, q storage.Querier, t *Table, id uuid.UUID, lock bool) (Row, error) {
	query := selectRow + ` WHERE table_name = ? AND id = ?`
	if lock && s.dialect == storage.Postgres {
		query += ` FOR UPDATE`
	}
	rows, err := q.Query(ctx, query, t.LogicalName, id.String())
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", t.LogicalName, id, err)
	}
	defer rows.Close()
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("get %s %s: %w", t.LogicalName, id, err)
		}
		return nil, &NotFoundError{Table: t.LogicalName, ID: id}
	}
	r, _, err := scanRow(t, rows)
	if err == nil {
		err = rows.Err()
	}
	if err != nil {
		return nil, fmt.Errorf("get %s %s: %w", t.LogicalName, id, err)
	}
	return r, nil
}

// scanRow reads a row of selectRow.
func scanRow(t *Table, rows storage.Rows) (Row, uuid.UUID, error) {
	var (
		idText            string
		version           int64
		owner             *string
		created, modified int64
		data              string
	)
	if err := rows.Scan(&idText, &version, &owner, &created, &modified, &data); err != nil {
		return nil, uuid.Nil, err
	}
	id, err := uuid.Parse(idText)
	if err != nil {
		return nil, uuid.Nil, fmt.Errorf("stored id %q: %w", idText, err)
	}
	r, err := DecodeRow(t, []byte(data))
	if err != nil {
		return nil, uuid.Nil, err
	}
	r[t.primaryKey()] = id
	r[ColumnCreatedOn] = storage.FromMicros(created)
	r[ColumnModifiedOn] = storage.FromMicros(modified)
	r[ColumnVersion] = version
	if owner != nil {
		o, err := uuid.Parse(*owner)
		if err != nil {
			return nil, uuid.Nil, fmt.Errorf("stored owner %q: %w", *owner, err)
		}
		r[ColumnOwnerID] = o
	}
	return r, id, nil
}

// selectFields resolves the names of a selection; nil selects all.
func selectFields(t *Table, names []string, option string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(names))
	for _, n := range names {
		f, ok := t.queryField(n)
		if !ok {
			return nil, invalidArg(option, -1, "unknown column %q of table %s", n, t.LogicalName)
		}
		if !slices.Contains(out, f.name) {
			out = append(out, f.name)
		}
	}
	return out, nil
}

// project keeps the primary key, the system columns and the selected
// columns of r.
func project(t *Table, r Row, sel []string) Row {
	if sel == nil {
		return r
	}
	out := make(Row, len(sel)+5)
	for _, name := range append([]string{t.primaryKey(), ColumnCreatedOn, ColumnModifiedOn, ColumnOwnerID, ColumnVersion}, sel...) {
		if v, ok := r[name]; ok {
			out[name] = v
		}
	}
	return out
}

// Update applies a partial row to a row of t: the values given are set, nil
// values clear their column, the others are kept. It sets the version and
// modifiedon from w and returns the row after the write. A missing row is a
// *NotFoundError; a row at another version than a positive
// w.ExpectedVersion is a *VersionConflictError, and nothing is written.
func (s *Rows) Update(ctx context.Context, q storage.Querier, t *Table, id uuid.UUID, values Row, w Write) (Row, error) {
	if err := w.check(); err != nil {
		return nil, fmt.Errorf("update %s %s: %w", t.LogicalName, id, err)
	}
	_, set, cleared, err := encodeData(t, id, values)
	if err != nil {
		return nil, fmt.Errorf("update %s %s: %w", t.LogicalName, id, err)
	}
	var query string
	var args []any
	if s.dialect == storage.Postgres {
		data, err := json.Marshal(set)
		if err != nil {
			return nil, fmt.Errorf("update %s %s: %w", t.LogicalName, id, err)
		}
		if cleared == nil {
			cleared = []string{}
		}
		query = `UPDATE rows SET data = (data || CAST(CAST(? AS TEXT) AS JSONB)) - CAST(? AS TEXT[]), version = ?, modified_on = ?`
		args = []any{string(data), cleared}
	} else {
		// A JSON merge patch (RFC 7396): null removes a key.
		for _, name := range cleared {
			set[name] = nil
		}
		data, err := json.Marshal(set)
		if err != nil {
			return nil, fmt.Errorf("update %s %s: %w", t.LogicalName, id, err)
		}
		query = `UPDATE rows SET data = json_patch(data, ?), version = ?, modified_on = ?`
		args = []any{string(data)}
	}
	args = append(args, w.Version, storage.Micros(w.At))
	if err := s.write(ctx, q, t, id, w.ExpectedVersion, query, args); err != nil {
		return nil, fmt.Errorf("update %s %s: %w", t.LogicalName, id, err)
	}
	return s.Get(ctx, q, t, id, nil)
}

// SetOwner gives a row of t the owner w.Owner (uuid.Nil for none), sets its
// version and modifiedon, and returns the row after the write; missing rows
// and version conflicts fail as in Update.
func (s *Rows) SetOwner(ctx context.Context, q storage.Querier, t *Table, id uuid.UUID, w Write) (Row, error) {
	if err := w.check(); err != nil {
		return nil, fmt.Errorf("set owner of %s %s: %w", t.LogicalName, id, err)
	}
	err := s.write(ctx, q, t, id, w.ExpectedVersion, `UPDATE rows SET owner_id = ?, version = ?, modified_on = ?`,
		[]any{ownerArg(w.Owner), w.Version, storage.Micros(w.At)})
	if err != nil {
		return nil, fmt.Errorf("set owner of %s %s: %w", t.LogicalName, id, err)
	}
	return s.Get(ctx, q, t, id, nil)
}

// SetVersion sets a row's version to w.Version and nothing else, not even
// modifiedon: for a message that changes the row's stream but none of its
// values, such as a share (GrantAccess). Missing rows and version
// conflicts fail as in Update.
func (s *Rows) SetVersion(ctx context.Context, q storage.Querier, t *Table, id uuid.UUID, w Write) error {
	if w.Version < 1 {
		return fmt.Errorf("set version of %s %s: version %d must be positive", t.LogicalName, id, w.Version)
	}
	if err := s.write(ctx, q, t, id, w.ExpectedVersion, `UPDATE rows SET version = ?`, []any{w.Version}); err != nil {
		return fmt.Errorf("set version of %s %s: %w", t.LogicalName, id, err)
	}
	return nil
}

// Delete removes a row of t. A missing row is a *NotFoundError; a row at
// another version than a positive expectedVersion is a
// *VersionConflictError, and nothing is deleted.
func (s *Rows) Delete(ctx context.Context, q storage.Querier, t *Table, id uuid.UUID, expectedVersion int64) error {
	if err := s.write(ctx, q, t, id, expectedVersion, `DELETE FROM rows`, nil); err != nil {
		return fmt.Errorf("delete %s %s: %w", t.LogicalName, id, err)
	}
	return nil
}

// write runs stmt (an UPDATE ... SET ... or a DELETE FROM, without WHERE)
// on one row, at the expected version when positive, and tells why when it
// touched nothing.
func (s *Rows) write(ctx context.Context, q storage.Querier, t *Table, id uuid.UUID, expected int64, stmt string, args []any) error {
	stmt += ` WHERE table_name = ? AND id = ?`
	args = append(args, t.LogicalName, id.String())
	if expected > 0 {
		stmt += ` AND version = ?`
		args = append(args, expected)
	}
	n, err := q.Exec(ctx, stmt, args...)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	var actual int64
	err = storage.ScanOne(ctx, q, []any{&actual}, `SELECT version FROM rows WHERE table_name = ? AND id = ?`, t.LogicalName, id.String())
	switch {
	case errors.Is(err, storage.ErrNoRows):
		return &NotFoundError{Table: t.LogicalName, ID: id}
	case err != nil:
		return err
	}
	return &VersionConflictError{Table: t.LogicalName, ID: id, Expected: expected, Actual: actual}
}

// Truncate deletes the rows of the given tables, or of every table when
// none is given, to rebuild them from the log. It returns how many rows it
// deleted.
func (s *Rows) Truncate(ctx context.Context, q storage.Querier, tables ...string) (int64, error) {
	stmt := `DELETE FROM rows`
	var args []any
	if len(tables) > 0 {
		stmt += ` WHERE table_name IN (?` + strings.Repeat(", ?", len(tables)-1) + `)`
		for _, name := range tables {
			args = append(args, name)
		}
	}
	n, err := q.Exec(ctx, stmt, args...)
	if err != nil {
		return 0, fmt.Errorf("truncate rows: %w", err)
	}
	return n, nil
}

// queryPlan is a Query checked against its table.
type queryPlan struct {
	sel      []string
	keys     []orderKey
	pageSize int
	top      int
}

func (t *Table) planQuery(query Query) (queryPlan, error) {
	var p queryPlan
	var err error
	if p.sel, err = selectFields(t, query.Select, "$select"); err != nil {
		return p, err
	}
	for _, o := range query.OrderBy {
		f, ok := t.queryField(o.Column)
		if !ok {
			return p, invalidArg("$orderby", -1, "unknown column %q of table %s", o.Column, t.LogicalName)
		}
		for _, k := range p.keys {
			if k.f.name == f.name {
				return p, invalidArg("$orderby", -1, "column %s is given twice", f.name)
			}
		}
		p.keys = append(p.keys, orderKey{f: f, desc: o.Desc})
	}
	switch {
	case query.PageSize < 0:
		return p, invalidArg("", -1, "page size %d must not be negative", query.PageSize)
	case query.PageSize == 0:
		p.pageSize = DefaultPageSize
	default:
		p.pageSize = min(query.PageSize, MaxPageSize)
	}
	if query.Top < 0 {
		return p, invalidArg("$top", -1, "%d must not be negative", query.Top)
	}
	p.top = query.Top
	return p, nil
}

// Query returns a page of the rows of t that match query.Filter, in
// query.OrderBy's order and then by id, each with the primary key, the
// system columns and the selected columns; and the token of the next page,
// "" when this is the last. A page token is a keyset position (the last
// row's sort values and id, base64url JSON), so rows inserted or deleted
// between pages do not make a row show twice or be skipped, except one
// whose sort values changed. The statement:
//
//	SELECT id, version, owner_id, created_on, modified_on, data FROM rows
//	WHERE table_name = ? AND (<filter>) AND (<after the token's row>)
//	ORDER BY <key> ASC NULLS FIRST | DESC NULLS LAST, ..., id ASC LIMIT <page size + 1>
//
// A query that does not fit the table is a *QueryError.
func (s *Rows) Query(ctx context.Context, q storage.Querier, t *Table, query Query) ([]Row, string, error) {
	p, err := t.planQuery(query)
	if err != nil {
		return nil, "", err
	}
	var (
		vals    []any
		afterID string
		done    int
	)
	if query.PageToken != "" {
		if vals, afterID, done, err = decodeCursor(query.PageToken, p.keys); err != nil {
			return nil, "", err
		}
	}
	limit := p.pageSize
	if p.top > 0 {
		if done >= p.top {
			return nil, "", nil
		}
		limit = min(limit, p.top-done)
	}
	w := &sqlWriter{d: s.dialect}
	w.str(selectRow + ` WHERE table_name = ?`)
	w.args = append(w.args, t.LogicalName)
	if query.Filter != nil {
		w.str(" AND ")
		if err := w.expr(t, query.Filter); err != nil {
			return nil, "", err
		}
	}
	if query.PageToken != "" {
		w.str(" AND ")
		if err := w.after(p.keys, vals, afterID); err != nil {
			return nil, "", err
		}
	}
	if err := w.orderBy(p.keys); err != nil {
		return nil, "", err
	}
	w.str(" LIMIT ?")
	w.args = append(w.args, int64(limit+1))

	rows, err := q.Query(ctx, w.b.String(), w.args...)
	if err != nil {
		return nil, "", fmt.Errorf("query %s: %w", t.LogicalName, err)
	}
	defer rows.Close()
	var (
		out    []Row
		lastID uuid.UUID
		more   bool
	)
	for rows.Next() {
		if len(out) == limit {
			// The extra row only says there is a next page.
			more = true
			break
		}
		r, id, err := scanRow(t, rows)
		if err != nil {
			return nil, "", fmt.Errorf("query %s: %w", t.LogicalName, err)
		}
		out = append(out, r)
		lastID = id
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("query %s: %w", t.LogicalName, err)
	}
	var token string
	if more && (p.top == 0 || done+len(out) < p.top) {
		if token, err = encodeCursor(p.keys, out[len(out)-1], lastID, done+len(out)); err != nil {
			return nil, "", fmt.Errorf("query %s: page token: %w", t.LogicalName, err)
		}
	}
	for i, r := range out {
		out[i] = project(t, r, p.sel)
	}
	return out, token, nil
}
