// Package catalog is event discovery, as Dataverse's catalog and catalog
// assignment tables are: a solution's root [Catalog] groups its events in
// one level of categories, and each category's assignments put a table (its
// table events) or a custom API (its action's event) in it.
//
// A solution declares its catalog in a file of its folder (package
// solution loads and checks it):
//
//	catalogs:
//	  - uniqueName: contoso_customers        # the root catalog, one per solution
//	    displayName: Contoso Customer Management
//	    categories:
//	      - uniqueName: contoso_customer_events
//	        displayName: Customer events
//	        assignments:
//	          - table: contact               # Create, Update, Delete, Assign, GrantAccess, ...
//	          - customApi: contoso_CustomerPurchase
//
// [Build] turns the catalogs of the imported solutions into an [Index]: the
// tree a subscriber browses (catalogs, categories, assignments, events) and
// each [Event] with its parameters and the JSON Schema (draft 2020-12) of
// what a subscriber receives for it.
//
// # Events
//
// An event's name is the type of its events in the log: "<table>.<Message>"
// for a table event (contact.Create), the custom API's unique name for an
// action (contoso_CustomerPurchase). A table assignment exposes Create,
// Update and Delete, and for a user-owned table also Assign, GrantAccess,
// ModifyAccess and RevokeAccess; Retrieve and RetrieveMultiple change
// nothing and are no events. A custom API assignment exposes the API's
// action; a function changes nothing and a private API is hidden from
// discovery, so neither can be catalogued ([Catalogable]).
//
// # Schemas
//
// An event's schema is the common envelope, the execution context every
// subscriber receives (schemas/execution-context.schema.json, by $ref to
// [EnvelopeSchemaURL]: Dataverse's RemoteExecutionContext in JSON),
// narrowed to the event: its MessageName, PrimaryEntityName and
// PrimaryEntityId, and the exact entries of its InputParameters and
// OutputParameters collections ({"key", "value"} arrays), the required
// ones required. Values are as the pipeline records them and package
// endpoints delivers them:
//
//   - a table event's Target is an Entity whose Attributes hold every
//     column of the table, null when the message did not set it (the
//     primary key and the system columns are always null there: the row's
//     id is Id);
//   - a reference (the Target of Delete, Assign, the share messages and a
//     row-bound custom API, an EntityReference parameter, Revokee) is an
//     EntityReference;
//   - decimals and money are JSON numbers with their exact digits, times
//     RFC 3339 strings in UTC, ids and lookups lower-case GUID strings,
//     choices and picklists integers, an Entity parameter an object of its
//     columns with "@odata.type".
package catalog
