// Package solution loads and checks solutions: folders of YAML files that
// define tables, custom APIs (custom events), steps, plugin modules and a
// catalog of the solution's events, as Dataverse solutions do.
//
// A solution folder holds a solution.yaml, the manifest:
//
//	name: contoso_customers        # lower case letters, digits, underscores
//	displayName: Contoso Customer Management
//	version: 1.0.0
//	publisher: contoso
//	description: ...
//
// and any number of other *.yaml files, at any depth, each holding one kind
// of definition under one top-level key:
//
//	tables:
//	  - logicalName: account
//	    pluralName: accounts
//	    primaryName: name
//	    columns:
//	      - { logicalName: name, type: string, required: true, maxLength: 160 }
//	      - { logicalName: revenue, type: money }
//	customApis:
//	  - uniqueName: contoso_CustomerPurchase
//	    allowedStepType: AsyncOnly
//	    requestParameters:
//	      - { uniqueName: Amount, type: Money }
//	steps:
//	  - name: revenue changed
//	    message: Update
//	    table: account
//	    stage: PostOperation          # or 40
//	    mode: async
//	    filteringColumns: [revenue]
//	    endpoint: erp
//	catalogs:                         # the root catalog, one at most
//	  - uniqueName: contoso_customers
//	    displayName: Contoso Customer Management
//	    categories:                   # one level deep
//	      - uniqueName: contoso_customer_events
//	        displayName: Customer events
//	        assignments:
//	          - table: contact
//	          - customApi: contoso_CustomerPurchase
//
// The keys are those of [Definition]'s types; schemas/ has their JSON
// Schemas, which editors use to complete and check the files. Unknown keys
// are errors.
//
// [Load] checks a folder and reports every problem at once, each with its
// file, line and column, in an *[Error] (code invalid_solution). A loaded
// [Solution] has a content [Solution.Hash] and encodes to a [Definition]
// ([Encode], [Decode]), which a solution import stores in the event log.
// [Diff] lists what an import of a new version changes. [Catalogs] gives
// the imported solutions' catalogs with their events (package catalog).
package solution
