package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
)

func replayCommand() *command {
	return &command{
		name:    "replay",
		summary: "replay the log: rebuild the rows from it, deliver a range to a subscriber again",
		subs:    []*command{replayRebuildCommand(), replayDeliverCommand()},
	}
}

func replayRebuildCommand() *command {
	return &command{
		name:    "rebuild",
		summary: "throw the rows away and make them again from the log's table events",
		help: "Replays every Create, Update, Assign and Delete of the log onto empty rows, and every\n" +
			"GrantAccess, ModifyAccess and RevokeAccess onto empty shares, in one transaction. Run it\n" +
			"while no server writes to the database.",
		setup: func(fs *flag.FlagSet, env *cliEnv) func(context.Context, []string) error {
			var o dbOptions
			o.register(fs, env, false)
			return func(ctx context.Context, args []string) error {
				if len(args) > 0 {
					return usagef("unexpected argument %q", args[0])
				}
				return runReplayRebuild(ctx, o, env.stdout, env.stderr)
			}
		},
	}
}

func runReplayRebuild(ctx context.Context, o dbOptions, stdout, stderr io.Writer) error {
	e, db, err := openEngine(ctx, o, newLogger(stderr, slog.LevelWarn), nil, nil)
	if err != nil {
		return err
	}
	defer db.Close()
	rep, err := e.Rebuild(ctx)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "rebuilt: %d rows from %d events (%d table changes, %d shares), up to position %d\n", rep.Rows, rep.Events, rep.Applied, rep.Shares, rep.Position)
	return err
}
