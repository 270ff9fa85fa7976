package sqlite

import "database/sql"

// Readers returns the store's pool of read-only connections, so that other
// tables in the same file can be read alongside the log. Writes go through
// [Store.Begin] and [Tx.SQL].
func (s *Store) Readers() *sql.DB { return s.r }
