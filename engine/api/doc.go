// Package api is bizevents' HTTP API: the subset of the Dataverse Web API
// (OData v4) that sends messages to the engine, and an OAuth 2.0 token
// endpoint for application users.
//
// # Routes
//
// Under Config.BasePath (default /api/data/v9.2), every request
// authenticated ("Authorization: Bearer <token or API key>" or
// "X-Api-Key"):
//
//	POST   /<set>                          Create; 204 + OData-EntityId, or 201 + row with Prefer: return=representation
//	GET    /<set>(<id>)?$select=a,b        Retrieve; row + @odata.etag, ETag header; If-None-Match → 304
//	GET    /<set>?$select&$filter&$orderby&$top
//	                                       RetrieveMultiple; {"@odata.context","value","@odata.nextLink"};
//	                                       Prefer: odata.maxpagesize=N pages, $skiptoken continues
//	PATCH  /<set>(<id>)                    Update (partial); If-Match: W/"<n>" → expected version (412 on mismatch);
//	                                       204, or 200 + row with Prefer: return=representation
//	PATCH  /<set>(<id>) {"ownerid@odata.bind":"/systemusers(<id>)"}
//	                                       Assign (the binding must be alone in the body)
//	DELETE /<set>(<id>)                    Delete; If-Match as for PATCH; 204
//	POST   /<api>                          unbound action; body = parameters; 200 + response properties, or 204
//	GET    /<api>(P1=@a,P2=3)?@a='x'       unbound function; also GET /<api>?P1='x'; values are OData literals
//	POST   /<set>(<id>)/Microsoft.Dynamics.CRM.<api>   action bound to a row (Table binding)
//	POST   /<set>/Microsoft.Dynamics.CRM.<api>         action bound to the table (TableCollection binding)
//	GET    (the same two, for bound functions, with parameters as above)
//	GET    /WhoAmI                         {"UserId": ...}, unless a custom API has that name
//	POST   /GrantAccess                    share a row of a user-owned table with a user, adding rights; 204
//	       {"Target":{"@odata.type":"Microsoft.Dynamics.CRM.<table>","<primary key>":"<id>"},
//	        "PrincipalAccess":{"Principal":{"@odata.type":"Microsoft.Dynamics.CRM.systemuser","systemuserid":"<id>"},
//	                           "AccessMask":"ReadAccess, WriteAccess"}}
//	POST   /ModifyAccess                   the same body: replace the user's rights; 204
//	POST   /RevokeAccess                   {"Target":{...},"Revokee":{...systemuser...}}: remove the user's share; 204
//
// <set> is a table's PluralName, <id> its row's GUID (or <primary key>=<GUID>),
// <api> a custom API's UniqueName; private APIs are callable too. An
// unknown set or API is 404 not_found naming it; POST to a function or GET
// on an action is 405 method_not_allowed with Allow. In Create and Update
// bodies, "<column>@odata.bind": "/<set>(<id>)" sets a lookup: the Target
// gets {"table": <logical name>, "id": <id>}; other annotations are ignored.
//
// The AccessMask names the rights ReadAccess, WriteAccess, AppendAccess,
// AppendToAccess, DeleteAccess, ShareAccess and AssignAccess (the Access
// suffix may be left out), or is their bits as a number, as Dataverse's
// AccessRights. An unknown right or a malformed GUID is 400 invalid_value;
// an organization-owned table 400 invalid_argument; a missing row 404
// not_found; a team as principal 400 not_supported.
//
// At Config.CatalogPath (default /api/catalogs), authenticated like the
// Web API, GET only, plain JSON (not OData), when Deps.Catalogs is set:
//
//	GET /api/catalogs                           {"catalogs":[{uniqueName, displayName, solution, categories:
//	                                              [{uniqueName, displayName, assignments: [{table | customApi,
//	                                              displayName, events: [{name, message, table}]}]}]}]}
//	GET /api/catalogs/{catalog}                 one catalog, as above
//	GET /api/catalogs/{catalog}/events          {"catalog", "events": [every event as below]}
//	GET /api/catalogs/{catalog}/events/{event}  {catalog, categories, name, message, table, customApi,
//	                                              displayName, description, parameters, responseProperties,
//	                                              schema}: schema is the JSON Schema of the event's
//	                                              execution context (package catalog)
//
// An event is named by its type in the log: contact.Create,
// contoso_CustomerPurchase. An unknown catalog or event is 404 not_found.
//
// At Config.TokenPath (default /oauth2/token), POST with
// application/x-www-form-urlencoded grant_type=client_credentials and the
// client's id and secret (form fields, or HTTP Basic): 200
// {"access_token","expires_in","token_type":"Bearer"}, or RFC 6749's
// {"error","error_description"} (401 invalid_client for bad credentials).
//
// # Headers
//
//   - X-Ms-Correlation-Request-Id and X-Ms-Client-Request-Id: taken from the
//     request when they are UUIDs, else made up; both are in every response
//     and become the message's correlation and request ids.
//   - Idempotency-Key (or MSCRM.IdempotencyKey), on POST of a Create or an
//     action only: a retry with the same key gets the first response, marked
//     Idempotent-Replayed: true.
//   - OData-Version: 4.0 on every Web API response.
//
// # Errors
//
// One function renders every error: the status from errcode's table (412
// instead of 409 for a version conflict under If-Match), the body
// {"error":{"code":"0x80040217","message":"...","bizeventsCode":"not_found"}}
// with Dataverse-style hex codes, and the header X-Bizevents-Error-Code. A
// 401 has WWW-Authenticate: Bearer; a 429 (Config.RateLimit per user)
// Retry-After in seconds. Internal errors are logged; the caller sees a
// generic message with the request id.
//
// # Left out
//
// $metadata and the service document, $batch, $expand, $count, $apply,
// navigation and property paths, $ref, alternate keys, upsert (a PATCH of a
// row that does not exist is 404, and If-None-Match: * on PATCH is refused
// with not_supported), CORS, and formatted values.
package api
