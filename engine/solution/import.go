package solution

import (
	"github.com/bizevents/bizevents/engine/flows"

	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/catalog"
	"github.com/bizevents/bizevents/engine/customapi"
	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/eventlog"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/storage"
	"github.com/bizevents/bizevents/engine/tables"
)

// Migrations create the table of imported solutions: the projection of the
// SolutionImported events, one row per solution, its latest version.
var Migrations = []storage.Migration{{
	Component: "solution", Version: 1,
	Postgres: `CREATE TABLE solutions (
		name TEXT PRIMARY KEY,
		version TEXT NOT NULL,
		hash TEXT NOT NULL,
		definition JSONB NOT NULL,
		imported_on BIGINT NOT NULL,
		stream_version BIGINT NOT NULL
	)`,
	SQLite: `CREATE TABLE solutions (
		name TEXT PRIMARY KEY,
		version TEXT NOT NULL,
		hash TEXT NOT NULL,
		definition TEXT NOT NULL,
		imported_on BIGINT NOT NULL,
		stream_version BIGINT NOT NULL
	)`,
}, {
	// The plugin modules the solutions ship, by content hash: the log's
	// SolutionImported events name them by hash, and a module's bytes
	// (megabytes) are kept here once, never changed or deleted, so that
	// any version the log names can be loaded again.
	Component: "solution", Version: 2,
	Postgres: `CREATE TABLE plugin_modules (
		hash TEXT PRIMARY KEY,
		size BIGINT NOT NULL,
		wasm BYTEA NOT NULL,
		stored_on BIGINT NOT NULL
	)`,
	SQLite: `CREATE TABLE plugin_modules (
		hash TEXT PRIMARY KEY,
		size BIGINT NOT NULL,
		wasm BLOB NOT NULL,
		stored_on BIGINT NOT NULL
	)`,
}}

// EventImported is the type of the event an import appends, on the
// solution's stream "solution/<name>".
const EventImported = "SolutionImported"

// ImportResult says what an import did.
type ImportResult struct {
	Name, Version string
	// PreviousVersion is the version that was imported before; empty for a
	// first import.
	PreviousVersion string
	// Changes lists what the import changed; empty when Unchanged.
	Changes Changes
	// Unchanged is true when the same definition was imported already:
	// then nothing was appended.
	Unchanged bool
	// EventID identifies the import's event.
	EventID uuid.UUID
}

// importedEvent is the data of a SolutionImported event.
type importedEvent struct {
	Name            string          `json:"name"`
	Version         string          `json:"version"`
	PreviousVersion string          `json:"previousVersion,omitempty"`
	Hash            string          `json:"hash"`
	Definition      json.RawMessage `json:"definition"`
	Changes         []Change        `json:"changes,omitempty"`
}

// Import stores a solution, replacing an earlier version of it: in one
// transaction it appends a SolutionImported event and updates the solutions
// table. It refuses a solution that clashes with the other imported
// solutions (a table or custom API defined twice, a step on a table another
// solution no longer has). Importing the same definition again does
// nothing. The engine sees the new definitions after [Activate].
func Import(ctx context.Context, db storage.DB, s *Solution, by pipeline.Caller) (ImportResult, error) {
	res := ImportResult{Name: s.Name, Version: s.Version}
	def, err := Encode(s)
	if err != nil {
		return res, fmt.Errorf("import %s: %w", s.Name, err)
	}
	err = storage.Run(ctx, db, func(tx storage.Tx) error {
		if db.Dialect() == storage.Postgres {
			// One import at a time, so that two solutions cannot both
			// claim the same table.
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(?)`, int64(0x62697a73)); err != nil {
				return err
			}
		}
		all, streamVersion, err := loadAll(ctx, tx)
		if err != nil {
			return err
		}
		var old *Solution
		if i := slices.IndexFunc(all, func(o *Solution) bool { return o.Name == s.Name }); i >= 0 {
			old = all[i]
			all = slices.Delete(all, i, i+1)
			res.PreviousVersion = old.Version
			if old.Hash == s.Hash {
				res.Unchanged = true
				return nil
			}
		}
		if _, err := Merge(append(all, s)); err != nil {
			return &Error{Problems: []Problem{{File: ManifestFile, Message: fmt.Sprintf("solution %s does not fit with the solutions imported before: %v", s.Name, err)}}}
		}
		if old != nil {
			res.Changes = Diff(old, s)
		} else {
			res.Changes = Diff(&Solution{Name: s.Name}, s)
		}
		data, err := json.Marshal(importedEvent{Name: s.Name, Version: s.Version, PreviousVersion: res.PreviousVersion, Hash: s.Hash, Definition: def, Changes: res.Changes})
		if err != nil {
			return err
		}
		res.EventID = uuid.Must(uuid.NewV7())
		stream := "solution/" + s.Name
		prev := streamVersion[s.Name]
		if _, err := tx.Append(ctx, eventlog.AppendRequest{
			Events: []eventlog.NewEvent{{ID: res.EventID, StreamID: stream, Type: EventImported, Data: data,
				Metadata: eventlog.Metadata{UserID: idString(by.UserID), InitiatingUserID: idString(by.InitiatingUserID), Depth: 1, Solution: s.Name}}},
			Expect: map[string]int64{stream: prev},
		}); err != nil {
			return err
		}
		now := storage.Micros(time.Now())
		for _, p := range s.Plugins {
			if p.Wasm == nil {
				return fmt.Errorf("plugin %s: the solution holds no module bytes: import it from its folder", p.Name)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO plugin_modules (hash, size, wasm, stored_on) VALUES (?, ?, ?, ?) ON CONFLICT (hash) DO NOTHING`,
				p.Hash, p.Size, p.Wasm, now); err != nil {
				return fmt.Errorf("store plugin %s: %w", p.Name, err)
			}
		}
		if old == nil {
			_, err = tx.Exec(ctx, `INSERT INTO solutions (name, version, hash, definition, imported_on, stream_version) VALUES (?, ?, ?, `+jsonParam(db)+`, ?, ?)`,
				s.Name, s.Version, s.Hash, string(def), now, prev+1)
		} else {
			_, err = tx.Exec(ctx, `UPDATE solutions SET version = ?, hash = ?, definition = `+jsonParam(db)+`, imported_on = ?, stream_version = ? WHERE name = ?`,
				s.Version, s.Hash, string(def), now, prev+1, s.Name)
		}
		return err
	})
	if err != nil {
		return res, fmt.Errorf("import %s %s: %w", s.Name, s.Version, err)
	}
	return res, nil
}

func jsonParam(db storage.DB) string {
	if db.Dialect() == storage.Postgres {
		return "CAST(CAST(? AS TEXT) AS JSONB)"
	}
	return "?"
}

func idString(id uuid.UUID) string {
	if id == uuid.Nil {
		return ""
	}
	return id.String()
}

// Imported returns the imported solutions, by name.
func Imported(ctx context.Context, q storage.Querier) ([]*Solution, error) {
	all, _, err := loadAll(ctx, q)
	return all, err
}

func loadAll(ctx context.Context, q storage.Querier) ([]*Solution, map[string]int64, error) {
	rows, err := q.Query(ctx, `SELECT name, definition, stream_version FROM solutions ORDER BY name`)
	if err != nil {
		return nil, nil, fmt.Errorf("read solutions: %w", err)
	}
	defer rows.Close()
	var all []*Solution
	versions := map[string]int64{}
	for rows.Next() {
		var name string
		var def []byte
		var v int64
		if err := rows.Scan(&name, &def, &v); err != nil {
			return nil, nil, fmt.Errorf("read solutions: %w", err)
		}
		s, err := Decode(def)
		if err != nil {
			return nil, nil, fmt.Errorf("read solution %s: %w", name, err)
		}
		all = append(all, s)
		versions[name] = v
	}
	return all, versions, rows.Err()
}

// Merge builds the engine's definitions from several solutions. Two
// solutions may not ship plugins of the same name, nor use the same unique
// name for a catalog or a category.
func Merge(sols []*Solution) (*pipeline.Definitions, error) {
	defs, _, err := merge(sols)
	return defs, err
}

// Catalogs returns the catalogs of the solutions imported in q's database,
// with the events they expose, as discovery shows them.
func Catalogs(ctx context.Context, q storage.Querier) (*catalog.Index, error) {
	all, err := Imported(ctx, q)
	if err != nil {
		return nil, err
	}
	_, x, err := merge(all)
	if err != nil {
		return nil, fmt.Errorf("catalogs: %w", err)
	}
	return x, nil
}

// merge builds the definitions and the catalogs of several solutions.
func merge(sols []*Solution) (*pipeline.Definitions, *catalog.Index, error) {
	var ts []tables.Table
	var apis []customapi.API
	var steps []pipeline.Step
	var cats []catalog.Entry
	shippedBy := map[string]string{}
	endpointOf := map[string]string{}
	inputOf := map[string]string{}
	for _, s := range sols {
		for _, in := range s.Inputs {
			if other, ok := inputOf[in.Name]; ok {
				return nil, nil, fmt.Errorf("input %s is defined by solutions %s and %s", in.Name, other, s.Name)
			}
			inputOf[in.Name] = s.Name
		}
		for _, e := range s.Endpoints {
			if other, ok := endpointOf[e.Name]; ok {
				return nil, nil, fmt.Errorf("endpoint %s is defined by solutions %s and %s", e.Name, other, s.Name)
			}
			endpointOf[e.Name] = s.Name
		}
		for _, p := range s.Plugins {
			if other, ok := shippedBy[p.Name]; ok {
				return nil, nil, fmt.Errorf("plugin %s is shipped by solutions %s and %s", p.Name, other, s.Name)
			}
			shippedBy[p.Name] = s.Name
		}
		ts = append(ts, s.Tables...)
		apis = append(apis, s.CustomAPIs...)
		for _, f := range s.Flows {
			if a, ok := flows.RequestAPI(f); ok {
				apis = append(apis, a)
			}
		}
		steps = append(steps, s.Steps...)
		for _, c := range s.Catalogs {
			cats = append(cats, catalog.Entry{Solution: s.Name, Catalog: c})
		}
	}
	defs, err := pipeline.NewDefinitions(ts, apis, steps)
	if err != nil {
		return nil, nil, err
	}
	x, err := catalog.Build(cats, defs)
	if err != nil {
		return nil, nil, err
	}
	return defs, x, nil
}

// PluginHost runs the plugin modules of the imported solutions; package
// plugins' Registry is one.
type PluginHost interface {
	// Sync makes the host's modules exactly want, module names to content
	// hashes: it loads those it lacks or has in another version, with
	// their bytes from fetch, and removes the others. Calls in flight
	// finish on the modules they started on.
	Sync(ctx context.Context, want map[string]string, fetch func(ctx context.Context, hash string) ([]byte, error)) error
}

// Activate loads the imported solutions into the engine: their plugin
// modules into host (when not nil), then their definitions. When a module
// fails to load, the engine keeps its definitions as they were.
func Activate(ctx context.Context, e *pipeline.Engine, host PluginHost) error {
	all, err := Imported(ctx, e.DB())
	if err != nil {
		return err
	}
	defs, err := Merge(all)
	if err != nil {
		return fmt.Errorf("activate solutions: %w", err)
	}
	if host != nil {
		want := map[string]string{}
		for _, s := range all {
			for _, p := range s.Plugins {
				want[p.Name] = p.Hash
			}
		}
		fetch := func(ctx context.Context, hash string) ([]byte, error) { return ModuleBytes(ctx, e.DB(), hash) }
		if err := host.Sync(ctx, want, fetch); err != nil {
			return fmt.Errorf("activate solutions: %w", err)
		}
	}
	e.SetDefinitions(defs)
	return nil
}

// ModuleBytes returns the bytes of the plugin module with the content
// hash, as an import stored them; a hash no import stored is not_found.
func ModuleBytes(ctx context.Context, q storage.Querier, hash string) ([]byte, error) {
	var wasm []byte
	err := storage.ScanOne(ctx, q, []any{&wasm}, `SELECT wasm FROM plugin_modules WHERE hash = ?`, hash)
	if err != nil {
		if errors.Is(err, storage.ErrNoRows) {
			return nil, &moduleNotFound{hash: hash}
		}
		return nil, fmt.Errorf("read plugin module %s: %w", hash, err)
	}
	return wasm, nil
}

type moduleNotFound struct{ hash string }

func (e *moduleNotFound) Error() string {
	return "plugin module sha256:" + e.hash + " was never imported"
}

func (e *moduleNotFound) ErrorCode() errcode.Code { return errcode.NotFound }

// Watch reloads the engine's definitions and plugin modules whenever the
// solutions table changes (an import by another process), checking every
// interval, until ctx is done.
func Watch(ctx context.Context, e *pipeline.Engine, host PluginHost, interval time.Duration, onError func(error)) {
	var last string
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		var n, at int64
		err := storage.ScanOne(ctx, e.DB(), []any{&n, &at}, `SELECT count(*), coalesce(max(imported_on), 0) FROM solutions`)
		if err == nil {
			if mark := fmt.Sprint(n, "/", at); mark != last {
				if err = Activate(ctx, e, host); err == nil {
					last = mark
				}
			}
		}
		if err != nil && !errors.Is(err, context.Canceled) && onError != nil {
			onError(err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
