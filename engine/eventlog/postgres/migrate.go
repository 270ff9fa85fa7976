package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// migration is one schema change; versions are applied in order, once.
type migration struct {
	version int
	name    string
	sql     string // {{s}} stands for the quoted schema name
}

var migrations = []migration{
	{1, "event log", `
CREATE TABLE {{s}}.events (
	id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tx_id              xid8 NOT NULL DEFAULT pg_current_xact_id(),
	event_id           uuid NOT NULL,
	stream_id          text NOT NULL,
	stream_version     bigint NOT NULL,
	type               text NOT NULL,
	data               json NOT NULL,
	user_id            text NOT NULL,
	initiating_user_id text NOT NULL,
	correlation_id     text NOT NULL,
	request_id         text NOT NULL,
	causation_id       text NOT NULL,
	depth              integer NOT NULL,
	solution           text NOT NULL,
	recorded_at        timestamptz NOT NULL,
	-- eventlog.ContentHash, computed by the appender, so that sealing
	-- reads 60 bytes of a row instead of its body.
	content_hash       bytea NOT NULL,
	CONSTRAINT events_stream_version UNIQUE (stream_id, stream_version)
);
-- The sealer's reading order: commit-safe below the snapshot's xmin.
CREATE INDEX events_tx_order ON {{s}}.events (tx_id, id);

-- One row per sealed event, append-only: its final position and chain hash.
CREATE TABLE {{s}}.seals (
	position bigint PRIMARY KEY,
	event    bigint NOT NULL,
	hash     bytea NOT NULL
);
CREATE INDEX seals_event ON {{s}}.seals (event);

-- Where the sealer stands: the last sealed position, its hash, and the
-- (tx_id, id) of the last sealed row.
CREATE TABLE {{s}}.chain_head (
	singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
	position  bigint NOT NULL,
	hash      bytea,
	last_tx   xid8 NOT NULL,
	last_id   bigint NOT NULL
);
INSERT INTO {{s}}.chain_head (position, hash, last_tx, last_id) VALUES (0, NULL, '0', 0);

CREATE TABLE {{s}}.offsets (
	subscriber text PRIMARY KEY,
	position   bigint NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
);`},
}

// migrate brings the schema to the latest version. It runs in one
// transaction under an advisory lock keyed by the schema, so two processes
// starting at once apply each migration once, and a second run is a no-op.
func (s *Store) migrate(ctx context.Context) error {
	schema := pgx.Identifier{s.cfg.Schema}.Sanitize()
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext('bizevents.migrate'), hashtext($1))", s.cfg.Schema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+schema); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+schema+`.migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		var current int
		if err := tx.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM "+schema+".migrations").Scan(&current); err != nil {
			return err
		}
		for _, m := range migrations {
			if m.version <= current {
				continue
			}
			if _, err := tx.Exec(ctx, strings.ReplaceAll(m.sql, "{{s}}", schema)); err != nil {
				return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
			}
			if _, err := tx.Exec(ctx, "INSERT INTO "+schema+".migrations (version, name) VALUES ($1, $2)", m.version, m.name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("postgres: migrate schema %s: %w", s.cfg.Schema, mapError(ctx, err))
	}
	return nil
}
