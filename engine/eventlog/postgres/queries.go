package postgres

// queries holds the SQL of one schema, built once.
type queries struct {
	appendEvents   string
	appendOne      string
	streamVersions string
	headPosition   string
	head           string
	readSealed     string // filters are appended by read
	readSealedPage string
	readStream     string
	readStreamDesc string
	streamExists   string
	setOffset      string
	getOffset      string
	sealBegin      string
	sealCursor     string
	sealCandidates string
	sealTarget     string
	insertSeals    string
	updateHead     string
}

func newQueries(schema string) queries {
	events, seals, head, offsets := ident(schema, "events"), ident(schema, "seals"), ident(schema, "chain_head"), ident(schema, "offsets")
	return queries{
		// One statement per request: the expected versions are checked and
		// every event inserted, or nothing is. $1 streams, $2 their expected
		// versions (-1: any), then one array per column, one entry per event,
		// with $4 the event's offset within its stream in this request. The
		// version subquery sees the statement's snapshot, not its own rows.
		// Rows come back in array order: a function scan feeding an INSERT.
		appendEvents: `
WITH cur AS (
	SELECT s.stream_id, s.expect,
		coalesce((SELECT max(e.stream_version) FROM ` + events + ` e WHERE e.stream_id = s.stream_id), 0) AS version
	FROM unnest($1::text[], $2::bigint[]) AS s(stream_id, expect)
), ok AS (
	SELECT NOT EXISTS (SELECT 1 FROM cur WHERE cur.expect >= 0 AND cur.expect <> cur.version) AS ok
)
INSERT INTO ` + events + ` (event_id, stream_id, stream_version, type, data, user_id, initiating_user_id,
	correlation_id, request_id, causation_id, depth, solution, recorded_at, content_hash)
SELECT n.event_id, n.stream_id, cur.version + n.off, n.type, n.data::json, n.user_id, n.initiating_user_id,
	n.correlation_id, n.request_id, n.causation_id, n.depth, n.solution, $16, n.content_hash
FROM unnest($3::uuid[], $4::bigint[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
	$10::text[], $11::text[], $12::text[], $13::int[], $14::text[], $15::bigint[], $17::bytea[])
	AS n(event_id, off, stream_id, type, data, user_id, initiating_user_id, correlation_id, request_id,
		causation_id, depth, solution, ord, content_hash)
JOIN cur USING (stream_id), ok
WHERE ok.ok
ORDER BY n.ord
RETURNING stream_version`,
		// The one-event case with scalar parameters: $2 stream, $3 expected
		// version (-1: any). No row back means the expectation failed.
		appendOne: `
INSERT INTO ` + events + ` (event_id, stream_id, stream_version, type, data, user_id, initiating_user_id,
	correlation_id, request_id, causation_id, depth, solution, recorded_at, content_hash)
SELECT $1, $2, coalesce(max(e.stream_version), 0) + 1, $4, $5::text::json, $6, $7, $8, $9, $10, $11, $12, $13, $14
FROM ` + events + ` e WHERE e.stream_id = $2
HAVING $3 < 0 OR coalesce(max(e.stream_version), 0) = $3
RETURNING stream_version`,
		streamVersions: `SELECT s, coalesce((SELECT max(e.stream_version) FROM ` + events + ` e WHERE e.stream_id = s), 0)
FROM unnest($1::text[]) AS s`,
		headPosition: `SELECT position FROM ` + head,
		head: `SELECT h.position, h.hash,
	(SELECT count(*) FROM ` + events + ` e WHERE (e.tx_id, e.id) > (h.last_tx, h.last_id))
FROM ` + head + ` h`,
		readSealed: `SELECT s.position, s.hash, e.event_id::text, e.stream_id, e.stream_version, e.type, e.data::text,
	e.user_id, e.initiating_user_id, e.correlation_id, e.request_id, e.causation_id, e.depth, e.solution, e.recorded_at
FROM ` + seals + ` s JOIN ` + events + ` e ON e.id = s.event
WHERE s.position > $1`,
		// readSealedPage is readSealed without filters: the page of seals is
		// cut first, so the plan is a nested loop over at most $2 seals
		// whatever the position (a generic plan of the join, which pgx's
		// prepared statements get, joined the whole events table).
		readSealedPage: `SELECT s.position, s.hash, e.event_id::text, e.stream_id, e.stream_version, e.type, e.data::text,
	e.user_id, e.initiating_user_id, e.correlation_id, e.request_id, e.causation_id, e.depth, e.solution, e.recorded_at
FROM (SELECT position, hash, event FROM ` + seals + ` WHERE position > $1 ORDER BY position LIMIT $2) s
JOIN ` + events + ` e ON e.id = s.event
ORDER BY s.position`,
		readStream: `SELECT coalesce(s.position, 0), s.hash, e.event_id::text, e.stream_id, e.stream_version, e.type, e.data::text,
	e.user_id, e.initiating_user_id, e.correlation_id, e.request_id, e.causation_id, e.depth, e.solution, e.recorded_at
FROM ` + events + ` e LEFT JOIN ` + seals + ` s ON s.event = e.id
WHERE e.stream_id = $1 AND e.stream_version >= $2
ORDER BY e.stream_version
LIMIT $3`,
		readStreamDesc: `SELECT coalesce(s.position, 0), s.hash, e.event_id::text, e.stream_id, e.stream_version, e.type, e.data::text,
	e.user_id, e.initiating_user_id, e.correlation_id, e.request_id, e.causation_id, e.depth, e.solution, e.recorded_at
FROM ` + events + ` e LEFT JOIN ` + seals + ` s ON s.event = e.id
WHERE e.stream_id = $1 AND e.stream_version <= $2
ORDER BY e.stream_version DESC
LIMIT $3`,
		streamExists: `SELECT coalesce(max(stream_version), 0) FROM ` + events + ` WHERE stream_id = $1`,
		setOffset: `INSERT INTO ` + offsets + ` (subscriber, position, updated_at) VALUES ($1, $2, now())
ON CONFLICT (subscriber) DO UPDATE SET position = excluded.position, updated_at = excluded.updated_at`,
		getOffset: `SELECT position FROM ` + offsets + ` WHERE subscriber = $1`,
		// Sealing commits asynchronously: a seal lost in a crash is redone
		// identically, because it is a pure function of rows that are final.
		sealBegin: `SELECT pg_advisory_xact_lock(hashtext('bizevents.seal'), hashtext($1)),
	set_config('synchronous_commit', 'off', true)`,
		sealCursor: `SELECT position, hash, last_tx::text::bigint, last_id FROM ` + head,
		// Committed rows after the cursor, in the sealer's order, with the
		// statement snapshot's xmin: rows with tx_id below it are final.
		sealCandidates: `SELECT e.id, e.tx_id::text::bigint, pg_snapshot_xmin(pg_current_snapshot())::text::bigint,
	e.stream_version, e.content_hash
FROM ` + events + ` e
WHERE (e.tx_id, e.id) > (SELECT h.last_tx, h.last_id FROM ` + head + ` h)
ORDER BY e.tx_id, e.id
LIMIT $1`,
		// The last committed row not sealed yet, in the sealer's order.
		sealTarget: `SELECT e.tx_id::text::bigint, e.id FROM ` + events + ` e
WHERE (e.tx_id, e.id) > (SELECT h.last_tx, h.last_id FROM ` + head + ` h)
ORDER BY e.tx_id DESC, e.id DESC
LIMIT 1`,
		insertSeals: `INSERT INTO ` + seals + ` (position, event, hash)
SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bytea[])`,
		updateHead: `UPDATE ` + head + ` SET position = $1, hash = $2, last_tx = $3::text::xid8, last_id = $4`,
	}
}
