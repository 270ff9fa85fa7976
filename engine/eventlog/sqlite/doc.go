// Package sqlite is the embedded backend of the event log: one SQLite file,
// opened through the pure-Go driver modernc.org/sqlite (no cgo), the
// zero-setup default for `bizevents serve`.
//
// # Sealing inside the writer
//
// SQLite has one writer at a time, so this backend seals every event inside
// the transaction that appends it: the event's Position is its rowid (events
// are never deleted and rowids are given explicitly, so positions are
// gapless), and its Hash chains it to the last row, read in the same write
// transaction. Append returns events with Position and Hash set, and
// [eventlog.Head.Unsealed] is always 0.
//
// # Connections and group commit
//
// A [Store] holds two handles on the file. The writer has exactly one
// connection and begins every transaction with BEGIN IMMEDIATE: appends,
// offset updates and [Store.Begin] queue for it in Go instead of fighting
// over the file lock with SQLITE_BUSY. The readers are a small pool in WAL
// mode, so reads never wait for the writer nor block it.
//
// [Store.Append] calls go through one committer goroutine, which commits the
// calls that queued while it was busy in one transaction: one sync for many
// callers, each call still atomic on its own. Validation and the events'
// content hashes are computed in the callers' goroutines; the committer only
// reads versions, links the hashes and writes.
//
// Why one writer connection: SQLite serializes writers anyway; queueing them
// in Go is fair, bounded by each caller's context, and leaves the busy
// timeout for what it is meant for, another process on the same file.
//
// # One process
//
// A second Store on the same file (another process) works: writers take
// turns through SQLite's file lock. But [Store.Wait] is woken only by appends
// made through the same Store; appends from elsewhere are noticed at the
// poll interval ([eventlog.Config.PollInterval]).
package sqlite
