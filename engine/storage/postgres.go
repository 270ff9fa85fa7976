package storage

import (
	"context"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/eventlog/postgres"
)

// postgresDB is a DB in a PostgreSQL schema, next to the log's tables.
type postgresDB struct {
	log  *postgres.Store
	pool *pgxpool.Pool
}

// OpenPostgres connects to connString, opens the log in schema (default
// postgres.DefaultSchema) and brings the engine's tables, in the same
// schema, up to date. Every connection of the pool has the schema as its
// search_path, so statements name tables without a schema.
func OpenPostgres(ctx context.Context, connString string, cfg postgres.Config, migrations ...Migration) (DB, error) {
	cfg = cfg.WithDefaults()
	pcfg, err := pgxpool.ParseConfig(connString)
	if err != nil {
		return nil, wrapErr(err)
	}
	pcfg.ConnConfig.RuntimeParams["search_path"] = cfg.Schema
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, wrapErr(err)
	}
	log, err := postgres.New(ctx, pool, cfg)
	if err != nil {
		pool.Close()
		return nil, err
	}
	db := &postgresDB{log: log, pool: pool}
	if err := migrate(ctx, db, migrations); err != nil {
		_ = db.Close()
		return nil, err
	}
	return db, nil
}

func (d *postgresDB) Log() eventlog.Store { return d.log }
func (d *postgresDB) Dialect() Dialect    { return Postgres }

func (d *postgresDB) Close() error {
	err := d.log.Close()
	d.pool.Close()
	return err
}

func (d *postgresDB) Begin(ctx context.Context) (Tx, error) {
	tx, err := d.log.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &postgresTx{Tx: tx.(*postgres.Tx)}, nil
}

func (d *postgresDB) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := d.pool.Exec(ctx, rebind(query), args...)
	if err != nil {
		return 0, wrapErr(err)
	}
	return tag.RowsAffected(), nil
}

func (d *postgresDB) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := d.pool.Query(ctx, rebind(query), args...)
	if err != nil {
		return nil, wrapErr(err)
	}
	return pgRows{rows}, nil
}

type postgresTx struct {
	*postgres.Tx
}

func (t *postgresTx) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := t.Conn().Exec(ctx, rebind(query), args...)
	if err != nil {
		return 0, wrapErr(err)
	}
	return tag.RowsAffected(), nil
}

func (t *postgresTx) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := t.Conn().Query(ctx, rebind(query), args...)
	if err != nil {
		return nil, wrapErr(err)
	}
	return pgRows{rows}, nil
}

// pgRows adapts pgx.Rows to Rows; pgx reports a query's error on Next and
// Err rather than on Query.
type pgRows struct{ pgx.Rows }

func (r pgRows) Scan(dest ...any) error { return wrapErr(r.Rows.Scan(dest...)) }
func (r pgRows) Err() error             { return wrapErr(r.Rows.Err()) }

// rebind numbers the ? placeholders of query for PostgreSQL, leaving those
// inside quoted strings and identifiers alone.
func rebind(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	var b strings.Builder
	b.Grow(len(query) + 16)
	n := 0
	var quote byte
	for i := 0; i < len(query); i++ {
		c := query[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
