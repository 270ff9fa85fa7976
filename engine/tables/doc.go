// Package tables holds what bizevents knows about tables: their definitions
// (columns, types, ownership), the checking of every value against its column,
// the row projection that the pipeline writes in the same transaction as the
// event, and the queries of RetrieveMultiple.
//
// A row is a projection of the log: each Create, Update, Delete and Assign is
// an event on the row's stream ("<table>/<id>"), and the row's version is the
// stream's version. The rows can be rebuilt from the log at any time.
//
// The parts:
//
//   - Checking: [Table.CheckCreate] and [Table.CheckUpdate] turn a message's
//     Target (JSON values, or values typed in Go) into a [Row] of the types
//     Row documents, and report every problem at once in a [*ValuesError].
//   - Encoding: [EncodeRow] and [DecodeRow] are the exact JSON form of a row,
//     for storage and events; [Table.Output] renders a row for a response.
//   - Storage: [Rows] keeps every table's rows in one SQL table, rows
//     (created by [Migrations]), on PostgreSQL and SQLite alike: the system
//     columns in SQL columns, the other values in a JSON data column.
//   - Sharing: [Shares] keeps the shares of rows (GrantAccess, ModifyAccess,
//     RevokeAccess), a principal's [AccessRights] on a row, in the shares
//     table, a projection of the share events on the rows' streams.
//   - Queries: [ParseQuery], [ParseFilter], [ParseOrderBy] and [ParseSelect]
//     read the OData options of RetrieveMultiple into a [Query], which
//     [Rows.Query] translates to SQL with parameters and pages by keyset.
//
// Errors a caller must tell apart carry codes of package errcode:
// [*ValuesError] (invalid_value), [*NotFoundError] (not_found),
// [*DuplicateError] (duplicate), [*VersionConflictError]
// (version_conflict), [*QueryError] (invalid_argument or not_supported) and
// [*AccessRightsError] (invalid_value).
package tables
