package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"text/tabwriter"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/solution"
)

func catalogCommand() *command {
	return &command{
		name:    "catalog",
		summary: "discover the events the imported solutions' catalogs expose, with their schemas",
		help: "A solution's catalog groups its events in categories: a table's Create, Update, Delete\n" +
			"(and Assign, GrantAccess, ModifyAccess, RevokeAccess on user-owned tables), a custom API's\n" +
			"action. An event is named as its type in the log: contact.Create, contoso_CustomerPurchase.",
		subs: []*command{catalogListCommand(), catalogShowCommand()},
	}
}

// catalogListOptions are the options of `bizevents catalog ls`.
type catalogListOptions struct {
	DB   dbOptions
	JSON bool
}

func catalogListCommand() *command {
	return &command{
		name:    "ls",
		summary: "list the catalogs, their categories, the assigned tables and custom APIs and their events",
		help:    "Reads the solutions imported in --db. With --json, prints {\"catalogs\": [...]} as GET /api/catalogs does.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o catalogListOptions
			o.DB.register(fs, env, false)
			fs.BoolVar(&o.JSON, "json", false, "print the tree as JSON")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q: ls lists every catalog", args[0])
				}
				return runCatalogList(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// catalogShowOptions are the options of `bizevents catalog show`.
type catalogShowOptions struct {
	DB dbOptions
	// Event names the event: contact.Create, contoso_CustomerPurchase.
	Event string
	// Catalog names its catalog, optionally: one catalog at most exposes
	// an event.
	Catalog string
	JSON    bool
}

func catalogShowCommand() *command {
	return &command{
		name:    "show",
		summary: "show one event: its message, parameters and the JSON Schema of what a subscriber receives",
		args:    "EVENT",
		help: "EVENT is an event's name, as catalog ls lists it: <table>.<Message> (contact.Create) or a custom\n" +
			"API's unique name, optionally after its catalog: contoso_customers/contact.Create. With --json,\n" +
			"prints the event as GET /api/catalogs/{catalog}/events/{event} does.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o catalogShowOptions
			o.DB.register(fs, env, false)
			fs.StringVar(&o.Catalog, "catalog", "", "the `catalog` the event must be in")
			fs.BoolVar(&o.JSON, "json", false, "print the event as JSON")
			return func(ctx context.Context, args []string) error {
				switch len(args) {
				case 0:
					return usagef("missing EVENT, e.g. contact.Create; bizevents catalog ls lists them")
				case 1:
					o.Event = args[0]
				default:
					return usagef("unexpected argument %q: show takes one event", args[1])
				}
				if cat, ev, ok := strings.Cut(o.Event, "/"); ok {
					if o.Catalog != "" && o.Catalog != cat {
						return usagef("the event names catalog %s and --catalog %s", cat, o.Catalog)
					}
					o.Catalog, o.Event = cat, ev
				}
				return runCatalogShow(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

// catalogIndex reads the catalogs of the solutions imported in o's
// database.
func catalogIndex(ctx context.Context, o dbOptions, stderr io.Writer) (*catalog.Index, error) {
	db, err := openEngineDB(ctx, o, newLogger(stderr, slog.LevelWarn))
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return solution.Catalogs(ctx, db)
}

// catalogTreeJSON is the JSON of catalog ls, as GET /api/catalogs.
type catalogTreeJSON struct {
	Catalogs []*catalog.CatalogInfo `json:"catalogs"`
}

func runCatalogList(ctx context.Context, o catalogListOptions, stdout, stderr io.Writer) error {
	x, err := catalogIndex(ctx, o.DB, stderr)
	if err != nil {
		return err
	}
	cats := x.Catalogs()
	if o.JSON {
		if cats == nil {
			cats = []*catalog.CatalogInfo{}
		}
		return newJSONEncoder(stdout).Encode(catalogTreeJSON{Catalogs: cats})
	}
	var b strings.Builder
	if len(cats) == 0 {
		b.WriteString("no catalogs: the imported solutions declare none (a catalogs: file in a solution folder)\n")
	}
	for _, c := range cats {
		fmt.Fprintf(&b, "catalog %s%s (solution %s)\n", c.UniqueName, quoted(c.DisplayName), c.Solution)
		for _, k := range c.Categories {
			fmt.Fprintf(&b, "  category %s%s\n", k.UniqueName, quoted(k.DisplayName))
			for _, a := range k.Assignments {
				what, name := "table", a.Table
				if a.CustomAPI != "" {
					what, name = "custom API", a.CustomAPI
				}
				fmt.Fprintf(&b, "    %s %s%s\n", what, name, quoted(a.DisplayName))
				for _, ev := range a.Events {
					fmt.Fprintf(&b, "      %s\n", ev.Name)
				}
			}
		}
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}

// quoted shows a display name after a unique name.
func quoted(s string) string {
	if s == "" {
		return ""
	}
	return fmt.Sprintf(" %q", s)
}

// unknownEvent is an event no catalog exposes: code not_found.
type unknownEvent struct{ event string }

func (e *unknownEvent) Error() string {
	return fmt.Sprintf("no catalog exposes an event %s; bizevents catalog ls lists them (<table>.<Message> or a custom API's name)", e.event)
}

// ErrorCode returns [errcode.NotFound].
func (e *unknownEvent) ErrorCode() errcode.Code { return errcode.NotFound }

func runCatalogShow(ctx context.Context, o catalogShowOptions, stdout, stderr io.Writer) error {
	x, err := catalogIndex(ctx, o.DB, stderr)
	if err != nil {
		return err
	}
	var ev *catalog.Event
	if o.Catalog != "" {
		if ev, err = x.Event(o.Catalog, o.Event); err != nil {
			return err
		}
	} else {
		// A catalog assigns its own solution's tables and custom APIs
		// only, so one catalog at most exposes an event.
		found := x.FindEvent(o.Event)
		if len(found) == 0 {
			return &unknownEvent{event: o.Event}
		}
		ev = found[0]
	}
	if o.JSON {
		return newJSONEncoder(stdout).Encode(ev)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "event %s%s\n", ev.Name, quoted(ev.DisplayName))
	if ev.Description != "" {
		fmt.Fprintf(&b, "  %s\n", ev.Description)
	}
	fmt.Fprintf(&b, "  message:    %s\n", ev.Message)
	if ev.Table != "" {
		fmt.Fprintf(&b, "  table:      %s\n", ev.Table)
	}
	fmt.Fprintf(&b, "  catalog:    %s\n", ev.Catalog)
	fmt.Fprintf(&b, "  categories: %s\n", strings.Join(ev.Categories, ", "))
	writeParameters(&b, "parameters", ev.Parameters)
	writeParameters(&b, "response", ev.ResponseProperties)
	var schema bytes.Buffer
	if err := json.Indent(&schema, ev.Schema, "  ", "  "); err != nil {
		return fmt.Errorf("event %s: schema: %w", ev.Name, err)
	}
	fmt.Fprintf(&b, "  schema:\n  %s\n", schema.String())
	_, err = io.WriteString(stdout, b.String())
	return err
}

func writeParameters(b *strings.Builder, title string, ps []catalog.Parameter) {
	if len(ps) == 0 {
		return
	}
	fmt.Fprintf(b, "  %s:\n", title)
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	defer tw.Flush()
	for _, p := range ps {
		typ := p.Type
		if p.Table != "" {
			typ += " (" + p.Table + ")"
		}
		need := "required"
		if p.Optional {
			need = "optional"
		}
		about := p.Description
		if about == "" {
			about = p.DisplayName
		}
		fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\n", p.Name, typ, need, about)
	}
}
