package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/solution"
)

func solutionCommand() *command {
	return &command{
		name:    "solution",
		summary: "check and import solutions: folders of YAML files defining tables, custom APIs and steps",
		help:    "A solution is a folder with a solution.yaml (name, version) and YAML files of definitions,\nchecked against the JSON Schemas in schemas/.",
		subs:    []*command{solutionValidateCommand(), solutionImportCommand()},
	}
}

// solutionValidateOptions are the options of `bizevents solution validate`.
type solutionValidateOptions struct {
	// Dir is the solution's folder.
	Dir  string
	JSON bool
}

func solutionValidateCommand() *command {
	return &command{
		name:    "validate",
		summary: "check a solution folder and print every problem as file:line:column: message",
		args:    "DIR",
		help: "Checks every YAML file below DIR against its schema, then the definitions together\n" +
			"(names, lookups, steps and the messages they are on). Exits with status 1 when there\n" +
			"is any problem; nothing is imported.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o solutionValidateOptions
			fs.BoolVar(&o.JSON, "json", false, "print the result as JSON")
			return func(ctx context.Context, args []string) error {
				switch len(args) {
				case 0:
					return usagef("missing DIR, the solution's folder, e.g. examples/contoso")
				case 1:
					o.Dir = args[0]
				default:
					return usagef("unexpected argument %q: validate checks one folder", args[1])
				}
				return runSolutionValidate(ctx, o, env.stdout)
			}
		},
	}
}

// solutionValidateJSON is the JSON shape of a validation.
type solutionValidateJSON struct {
	OK         bool               `json:"ok"`
	Name       string             `json:"name,omitempty"`
	Version    string             `json:"version,omitempty"`
	Hash       string             `json:"hash,omitempty"`
	Files      int                `json:"files,omitempty"`
	Tables     int                `json:"tables"`
	CustomAPIs int                `json:"custom_apis"`
	Steps      int                `json:"steps"`
	Problems   []solution.Problem `json:"problems,omitempty"`
}

// runSolutionValidate loads the solution in o.Dir and prints a summary, or
// every problem with its file's path from the working directory; problems
// end in an error with code invalid_solution that says how many there are.
func runSolutionValidate(_ context.Context, o solutionValidateOptions, stdout io.Writer) error {
	s, err := solution.Load(o.Dir)
	var se *solution.Error
	if err != nil && !errors.As(err, &se) {
		return err
	}
	if se != nil {
		for i := range se.Problems {
			if p := &se.Problems[i]; p.File != "" {
				p.File = filepath.ToSlash(filepath.Join(o.Dir, filepath.FromSlash(p.File)))
			}
		}
	}
	switch {
	case o.JSON && se != nil:
		if err := newJSONEncoder(stdout).Encode(solutionValidateJSON{Problems: se.Problems}); err != nil {
			return err
		}
	case o.JSON:
		if err := newJSONEncoder(stdout).Encode(solutionValidateJSON{
			OK: true, Name: s.Name, Version: s.Version, Hash: s.Hash, Files: s.Files,
			Tables: len(s.Tables), CustomAPIs: len(s.CustomAPIs), Steps: len(s.Steps),
		}); err != nil {
			return err
		}
	case se != nil:
		if _, err := fmt.Fprintln(stdout, se.Error()); err != nil {
			return err
		}
	default:
		_, err := fmt.Fprintf(stdout, "ok: %s %s: %s, %s, %s\n", s.Name, s.Version,
			plural(len(s.Tables), "table"), plural(len(s.CustomAPIs), "custom API"), plural(len(s.Steps), "step"))
		return err
	}
	if se == nil {
		return nil
	}
	return &solutionProblems{err: se, dir: o.Dir}
}

// solutionProblems ends a validation that printed its problems: it is
// reported on stderr as one line, with the problems' code.
type solutionProblems struct {
	err *solution.Error
	dir string
}

func (e *solutionProblems) Error() string {
	return fmt.Sprintf("solution %s does not validate: %s", e.dir, plural(len(e.err.Problems), "problem"))
}

func (e *solutionProblems) Unwrap() error { return e.err }

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// solutionImportOptions are the options of `bizevents solution import`.
type solutionImportOptions struct {
	DB   dbOptions
	Dir  string
	JSON bool
}

func solutionImportCommand() *command {
	return &command{
		name:    "import",
		summary: "validate a solution folder and import it into the engine's database",
		args:    "DIR",
		help: "Validates DIR, then stores it as a SolutionImported event and makes it the solution's\n" +
			"current version: new tables, columns, custom APIs and steps take effect, removed ones\n" +
			"stop. Importing the same definition again changes nothing. A server on the same\n" +
			"database picks the import up within seconds.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o solutionImportOptions
			o.DB.register(fs, env, false)
			fs.BoolVar(&o.JSON, "json", false, "print the result as JSON")
			return func(ctx context.Context, args []string) error {
				switch len(args) {
				case 0:
					return usagef("missing DIR, the solution's folder, e.g. examples/contoso")
				case 1:
					o.Dir = args[0]
				default:
					return usagef("unexpected argument %q: import takes one folder", args[1])
				}
				return runSolutionImport(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

func runSolutionImport(ctx context.Context, o solutionImportOptions, stdout, stderr io.Writer) error {
	if err := runSolutionValidate(ctx, solutionValidateOptions{Dir: o.Dir, JSON: false}, io.Discard); err != nil {
		var sp *solutionProblems
		if errors.As(err, &sp) {
			_, _ = fmt.Fprintln(stdout, sp.err.Error())
		}
		return err
	}
	s, err := solution.Load(o.Dir)
	if err != nil {
		return err
	}
	if err := checkPlugins(ctx, s); err != nil {
		return err
	}
	_, db, err := openEngine(ctx, o.DB, newLogger(stderr, slog.LevelWarn), nil, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	res, err := solution.Import(ctx, db, s, pipeline.Caller{})
	if err != nil {
		return err
	}
	if o.JSON {
		return newJSONEncoder(stdout).Encode(res)
	}
	switch {
	case res.Unchanged:
		_, err = fmt.Fprintf(stdout, "unchanged: %s %s is already imported\n", res.Name, res.Version)
	case res.PreviousVersion == "":
		_, err = fmt.Fprintf(stdout, "imported: %s %s (%s)\n", res.Name, res.Version, plural(len(res.Changes), "definition"))
	default:
		_, err = fmt.Fprintf(stdout, "upgraded: %s %s -> %s\n%s\n", res.Name, res.PreviousVersion, res.Version, res.Changes.String())
	}
	return err
}
