// Command bizevents is the one binary of the bizevents engine: it serves the
// engine and works on its event log from the command line.
//
//	bizevents serve [--db bizevents.db] [--addr 127.0.0.1:8080]
//	bizevents log append|read|tail|verify|stream ...
//	bizevents plugin new|build|test ...
//	bizevents help [command]
//
// Exit codes: 0 success, 1 failure, 2 a command line that cannot run as
// written (unknown command, bad flag value).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/bizevents/bizevents/engine/errcode"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// After the first signal, restore the default handling: a second
		// Ctrl-C ends a shutdown that takes too long.
		<-ctx.Done()
		stop()
	}()
	code := run(ctx, os.Args[1:], &cliEnv{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run runs the command line args and returns the exit code.
func run(ctx context.Context, args []string, env *cliEnv) int {
	return exitCode(env.stderr, execute(ctx, rootCommand(), "bizevents", args, env))
}

func rootCommand() *command {
	return &command{
		name: "bizevents",
		help: "bizevents is a business-events engine: an append-only, hash-chained event log\n" +
			"with plugins, flows and subscribers. The log is a SQLite file (--db, default\n" +
			"bizevents.db) or a PostgreSQL database (--db postgres://...).",
		subs: []*command{serveCommand(), logCommand(), solutionCommand(), replayCommand(), traceCommand(), pluginCommand(), jobsCommand(), flowsCommand(), catalogCommand()},
	}
}

// exitCode reports err on stderr with its stable code and returns the exit
// code for it.
func exitCode(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	var (
		ue *usageError
		f  *failure
	)
	switch {
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "error [%s]: %s\n", errcode.InvalidArgument, ue.msg)
		if ue.hint != "" {
			fmt.Fprintf(stderr, "Try '%s'.\n", ue.hint)
		}
		return exitUsage
	case errors.As(err, &f):
		fmt.Fprintf(stderr, "error: %s\n", f.msg)
		return exitFailure
	}
	fmt.Fprintf(stderr, "error [%s]: %v\n", errcode.Of(err), err)
	return exitFailure
}
