// Package tables holds what bizevents knows about tables: their definitions
// (columns, types, ownership), the checking of every value against its column,
// the row projection that the pipeline writes in the same transaction as the
// event, and the queries of RetrieveMultiple.
//
// A row is a projection of the log: each Create, Update, Delete and Assign is
// an event on the row's stream ("<table>/<id>"), and the row's version is the
// stream's version. The rows can be rebuilt from the log at any time.
package tables
