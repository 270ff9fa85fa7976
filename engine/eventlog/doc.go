// Package eventlog is bizevents' source of truth: an append-only,
// hash-chained log of every message the engine has processed.
//
// The package declares what the engine needs from a log ([Store], [Tx]), the
// shapes that go in and out ([NewEvent], [Event]), the errors a caller must tell
// apart, and the logic that sits above any database: validation, the hash
// chain ([ChainHash], [Verify]) and the durable follower ([Follow]). The
// backends live in eventlog/postgres (pgx v5, production) and eventlog/sqlite
// (an embedded, pure-Go SQLite file, the zero-setup default); both pass the
// one conformance suite in eventlog/eventlogtest.
//
// # Positions, versions and sealing
//
// Every event belongs to a stream (a row, a custom API, anything with an
// identity) and gets the next stream version when appended; optimistic
// concurrency is per stream ([AppendRequest.Expect]).
//
// Every event also gets a global Position: gapless, starting at 1, in commit
// order, final. Readers ([Store.Read], [Follow]) only ever see positioned
// events, so a follower that stores "I have handled up to 1041" never skips
// an event that committed late. Giving an event its position and its chained
// hash is called sealing. SQLite has one writer at a time, so it seals inside
// the appending transaction. PostgreSQL does not: a sequence value is not
// commit order, and chaining inside the writer's transaction would make every
// writer wait for the previous one to commit. There a sealer follows the
// committed rows in transaction-id order below the snapshot horizon and seals
// them just after commit; [Head] reports how many events are committed but
// not yet sealed. Stream reads ([Store.ReadStream]) see committed events at
// once, sealed or not.
package eventlog
