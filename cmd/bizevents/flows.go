package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/flows"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/solution"
	"github.com/bizevents/bizevents/engine/storage"
)

// flowsCommand is `bizevents flows`: the flows and their runs.
func flowsCommand() *command {
	return &command{
		name:    "flows",
		summary: "list the flows, their runs, one run's actions; resubmit a run",
		subs:    []*command{flowsListCommand(), flowsRunsCommand(), flowsShowCommand(), flowsResubmitCommand()},
	}
}

// flowListing is a flow with the counts of its runs by status.
type flowListing struct {
	flows.Info
	Runs map[jobs.Status]int64 `json:"runs"`
}

// listFlows compiles the imported solutions' flows and counts their runs.
func listFlows(ctx context.Context, db storage.DB) ([]flowListing, error) {
	sols, err := solution.Imported(ctx, db)
	if err != nil {
		return nil, err
	}
	fs, _, err := solution.CompileFlows(sols)
	if err != nil {
		return nil, err
	}
	store := jobs.NewStore(db, nil)
	out := make([]flowListing, 0, len(fs))
	for _, f := range fs {
		counts, err := store.Counts(ctx, flows.Subscriber(f.Def.Name))
		if err != nil {
			return nil, err
		}
		out = append(out, flowListing{Info: flows.Describe(f), Runs: counts})
	}
	return out, nil
}

func flowsListCommand() *command {
	return &command{
		name:    "ls",
		summary: "list the flows of the imported solutions, with their runs by status",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o dbOptions
			o.register(fs, env, false)
			asJSON := fs.Bool("json", false, "print each flow as a JSON line")
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return withDB(ctx, o, env.stderr, func(db storage.DB) error {
					list, err := listFlows(ctx, db)
					if err != nil {
						return err
					}
					for _, f := range list {
						if *asJSON {
							if err := newJSONEncoder(env.stdout).Encode(f); err != nil {
								return err
							}
							continue
						}
						on := strings.Join(f.Events, ", ")
						switch {
						case f.Every != "":
							on = "every " + f.Every
						case f.API != "":
							on = "custom API " + f.API
						}
						state := ""
						if f.Disabled {
							state = " (disabled)"
						}
						var counts []string
						for _, st := range jobs.Statuses {
							if n := f.Runs[st]; n > 0 {
								counts = append(counts, fmt.Sprintf("%s %d", st, n))
							}
						}
						runs := "no runs"
						if len(counts) > 0 {
							runs = strings.Join(counts, ", ")
						}
						fmt.Fprintf(env.stdout, "%s%s: %s trigger on %s; %s\n", f.Name, state, f.Trigger, on, runs)
					}
					return nil
				})
			}
		},
	}
}

func flowsRunsCommand() *command {
	return &command{
		name:    "runs",
		summary: "list a flow's runs, oldest first",
		args:    "FLOW",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o jobsListOptions
			o.DB.register(fs, env, false)
			statusFlag(fs, &o.Filter.Status, "runs")
			fs.Var(intValue{&o.Filter.Limit}, "limit", "at most `n` runs (default 100)")
			fs.BoolVar(&o.JSON, "json", false, "print each run's job as a JSON line")
			return func(ctx context.Context, args []string) error {
				if len(args) != 1 {
					return usagef("want one FLOW")
				}
				o.Filter.Subscriber = flows.Subscriber(args[0])
				return listJobs(ctx, o, env)
			}
		},
	}
}

// runJSON is a run: its job and what its stream records.
type runJSON struct {
	Job jobs.Job   `json:"job"`
	Run *flows.Run `json:"run,omitempty"`
}

// readRun reads a run's job and its stream; a run that has not started
// has only its job.
func readRun(ctx context.Context, db storage.DB, id uuid.UUID) (runJSON, error) {
	j, err := jobs.NewStore(db, nil).Get(ctx, id)
	if err != nil {
		return runJSON{}, err
	}
	if j.Kind != flows.KindFlow {
		return runJSON{}, &notAFlowRun{id: id}
	}
	run, err := flows.ReadRun(ctx, db.Log(), id.String())
	if err != nil && errcode.Of(err) != errcode.NotFound {
		return runJSON{}, err
	}
	return runJSON{Job: j, Run: run}, nil
}

type notAFlowRun struct{ id uuid.UUID }

func (e *notAFlowRun) Error() string           { return "job " + e.id.String() + " is not a flow run" }
func (e *notAFlowRun) ErrorCode() errcode.Code { return errcode.NotFound }

func flowsShowCommand() *command {
	return &command{
		name:    "show",
		summary: "show a run: its trigger, each action's status, duration, inputs and outputs",
		args:    "RUNID",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o dbOptions
			o.register(fs, env, false)
			asJSON := fs.Bool("json", false, "print as JSON")
			verbose := fs.Bool("v", false, "print each action's inputs and outputs")
			return func(ctx context.Context, args []string) error {
				id, err := runArg(args)
				if err != nil {
					return err
				}
				return withDB(ctx, o, env.stderr, func(db storage.DB) error {
					r, err := readRun(ctx, db, id)
					if err != nil {
						return err
					}
					if *asJSON {
						return newJSONEncoder(env.stdout).Encode(r)
					}
					return printRun(env.stdout, r, *verbose)
				})
			}
		},
	}
}

func printRun(w io.Writer, r runJSON, verbose bool) error {
	if err := printJob(w, r.Job, false); err != nil {
		return err
	}
	if r.Run == nil {
		_, err := fmt.Fprintln(w, "  not started")
		return err
	}
	run := r.Run
	fmt.Fprintf(w, "  run %s of flow %s: %s, started %s, trigger %s at %d\n", run.ID, run.Flow, run.Status,
		run.Started.Format(time.RFC3339Nano), run.Trigger.Type, run.Trigger.Position)
	if run.Error != nil {
		fmt.Fprintf(w, "  [%s] %s\n", run.Error.Code, run.Error.Message)
	}
	for _, a := range run.Actions {
		line := fmt.Sprintf("  %-9s %s (%s) %.1f ms", a.Status, a.Path, a.Kind, a.Duration)
		if a.Attempts > 1 {
			line += fmt.Sprintf(", %d attempts", a.Attempts)
		}
		if a.Error != nil {
			line += fmt.Sprintf(": [%s] %s", a.Error.Code, a.Error.Message)
		}
		fmt.Fprintln(w, line)
		if verbose {
			if a.Inputs != nil {
				fmt.Fprintf(w, "      inputs  %s\n", oneLineJSON(a.Inputs))
			}
			if a.Outputs != nil {
				fmt.Fprintf(w, "      outputs %s\n", oneLineJSON(a.Outputs))
			}
		}
	}
	return nil
}

func oneLineJSON(v any) string {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return compactJSON(data)
}

func flowsResubmitCommand() *command {
	return &command{
		name:    "resubmit",
		summary: "start a new run of a run's flow on the same trigger event",
		args:    "RUNID",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o dbOptions
			o.register(fs, env, false)
			return func(ctx context.Context, args []string) error {
				id, err := runArg(args)
				if err != nil {
					return err
				}
				return withDB(ctx, o, env.stderr, func(db storage.DB) error {
					j, err := resubmit(ctx, db, id)
					if err != nil {
						return err
					}
					return printJob(env.stdout, j, false)
				})
			}
		},
	}
}

// resubmit makes a new run of a run's flow, with the flow's retry policy.
func resubmit(ctx context.Context, db storage.DB, id uuid.UUID) (jobs.Job, error) {
	store := jobs.NewStore(db, nil)
	old, err := store.Get(ctx, id)
	if err != nil {
		return jobs.Job{}, err
	}
	if old.Kind != flows.KindFlow {
		return jobs.Job{}, &notAFlowRun{id: id}
	}
	policy := jobs.Policy{}.WithDefaults()
	if list, err := listFlows(ctx, db); err == nil {
		for _, f := range list {
			if f.Name == old.Target {
				policy.MaxAttempts = max(old.MaxAttempts, 1)
			}
		}
	}
	return flows.Resubmit(ctx, store, db, old, policy)
}

func runArg(args []string) (uuid.UUID, error) {
	if len(args) != 1 {
		return uuid.Nil, usagef("want one RUNID")
	}
	id, err := uuid.Parse(args[0])
	if err != nil {
		return uuid.Nil, usagef("run id %q is not a GUID", args[0])
	}
	return id, nil
}

// withDB opens the database and runs fn on it.
func withDB(ctx context.Context, o dbOptions, stderr io.Writer, fn func(storage.DB) error) error {
	db, err := openEngineDB(ctx, o, newLogger(stderr, slog.LevelWarn))
	if err != nil {
		return err
	}
	defer db.Close()
	return fn(db)
}

// flowsAPI serves the flows and their runs over HTTP.
type flowsAPI struct {
	*logAPI
	db    storage.DB
	store *jobs.Store
}

func (a *flowsAPI) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/flows", a.authenticated(a.list))
	mux.HandleFunc("GET /api/flows/{name}/runs", a.authenticated(a.runs))
	mux.HandleFunc("GET /api/flowruns/{id}", a.authenticated(a.show))
	mux.HandleFunc("POST /api/flowruns/{id}/resubmit", a.authenticated(a.resubmit))
}

func (a *flowsAPI) list(w http.ResponseWriter, r *http.Request) {
	list, err := listFlows(r.Context(), a.db)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeJSON(w, r, map[string]any{"flows": list})
}

func (a *flowsAPI) runs(w http.ResponseWriter, r *http.Request) {
	f, err := jobFilterFromURL(r.URL.Query())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	f.Subscriber = flows.Subscriber(r.PathValue("name"))
	list, err := a.store.List(r.Context(), f)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if list == nil {
		list = []jobs.Job{}
	}
	a.writeJSON(w, r, map[string]any{"runs": list})
}

func (a *flowsAPI) runID(w http.ResponseWriter, r *http.Request) (uuid.UUID, bool) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, &argumentError{err: fmt.Errorf("run id %q is not a GUID", r.PathValue("id"))})
		return uuid.Nil, false
	}
	return id, true
}

func (a *flowsAPI) show(w http.ResponseWriter, r *http.Request) {
	id, ok := a.runID(w, r)
	if !ok {
		return
	}
	run, err := readRun(r.Context(), a.db, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeJSON(w, r, run)
}

func (a *flowsAPI) resubmit(w http.ResponseWriter, r *http.Request) {
	id, ok := a.runID(w, r)
	if !ok {
		return
	}
	j, err := resubmit(r.Context(), a.db, id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeJSON(w, r, j)
}
