package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/bizevents/bizevents/engine/errcode"
)

// cliEnv is what a command gets from the process: its standard streams and
// environment. Tests fill it with buffers and a map.
type cliEnv struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
}

// command is a node of the command tree: a group with subcommands, or a leaf
// with flags and an action.
type command struct {
	name string
	// summary is the one line shown in the parent's list of commands.
	summary string
	// args describes the positional arguments in the usage line, e.g.
	// "STREAMID".
	args string
	// help is the longer description shown by --help, optional.
	help string
	subs []*command
	// setup registers a leaf's flags on fs and returns the action to run
	// once they are parsed, with the positional arguments.
	setup func(fs *flag.FlagSet, env *cliEnv) func(ctx context.Context, args []string) error
}

// execute runs the command named by args below cmd; path is the command's
// full name ("bizevents log"), used in usage messages and hints.
func execute(ctx context.Context, cmd *command, path string, args []string, env *cliEnv) error {
	if cmd.subs == nil {
		return executeLeaf(ctx, cmd, path, args, env)
	}
	if len(args) == 0 {
		printGroupHelp(env.stderr, cmd, path)
		return &usageError{msg: "missing command", hint: path + " --help"}
	}
	switch name := args[0]; name {
	case "-h", "-help", "--help", "help":
		if name == "help" && len(args) > 1 {
			// "bizevents help log read" is "bizevents log read --help".
			return execute(ctx, cmd, path, append(args[1:], "--help"), env)
		}
		printGroupHelp(env.stdout, cmd, path)
		return nil
	}
	for _, sub := range cmd.subs {
		if sub.name == args[0] {
			return execute(ctx, sub, path+" "+sub.name, args[1:], env)
		}
	}
	if strings.HasPrefix(args[0], "-") {
		return &usageError{msg: fmt.Sprintf("unknown flag %s: flags go after the command", args[0]), hint: path + " --help"}
	}
	return &usageError{msg: fmt.Sprintf("unknown command %q", args[0]), hint: path + " --help"}
}

func executeLeaf(ctx context.Context, cmd *command, path string, args []string, env *cliEnv) error {
	fs := flag.NewFlagSet(path, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse errors are returned and reported once
	action := cmd.setup(fs, env)
	positional, err := parseInterspersed(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printLeafHelp(env.stdout, cmd, path, fs)
		return nil
	}
	if err != nil {
		return &usageError{msg: err.Error(), hint: path + " --help"}
	}
	err = action(ctx, positional)
	var ue *usageError
	if errors.As(err, &ue) && ue.hint == "" {
		ue.hint = path + " --help"
	}
	return err
}

// parseInterspersed parses flags placed before, between and after the
// positional arguments, which it returns ("log stream S --json" works as
// "log stream --json S"). Everything after "--" is positional.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			return append(positional, rest...), nil
		}
		if len(rest) == 0 {
			return positional, nil
		}
		positional = append(positional, rest[0])
		args = rest[1:]
	}
}

func printGroupHelp(w io.Writer, cmd *command, path string) {
	fmt.Fprintf(w, "Usage: %s <command> [flags]\n\n", path)
	if cmd.help != "" {
		fmt.Fprintf(w, "%s\n\n", cmd.help)
	}
	fmt.Fprintln(w, "Commands:")
	tw := tabwriter.NewWriter(w, 0, 0, 3, ' ', 0)
	for _, sub := range cmd.subs {
		fmt.Fprintf(tw, "  %s\t%s\n", sub.name, sub.summary)
	}
	_ = tw.Flush()
	fmt.Fprintf(w, "\nRun '%s <command> --help' for a command's flags.\n", path)
}

func printLeafHelp(w io.Writer, cmd *command, path string, fs *flag.FlagSet) {
	usage := path + " [flags]"
	if cmd.args != "" {
		usage = path + " " + cmd.args + " [flags]"
	}
	fmt.Fprintf(w, "Usage: %s\n\n%s.\n", usage, capitalize(cmd.summary))
	if cmd.help != "" {
		fmt.Fprintf(w, "\n%s\n", cmd.help)
	}
	fmt.Fprintln(w, "\nFlags:")
	fs.SetOutput(w)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
}

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// usageError is a command line that cannot run as written: exit code 2,
// shown with the command to try for help. Its code is invalid_argument.
type usageError struct {
	msg string
	// hint is the command that shows the usage, e.g. "bizevents log read
	// --help"; filled in by execute when empty.
	hint string
}

func (e *usageError) Error() string { return e.msg }

// ErrorCode returns [errcode.InvalidArgument].
func (e *usageError) ErrorCode() errcode.Code { return errcode.InvalidArgument }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// failure is an outcome the command already reported on stdout and that
// must end the process with exit code 1, such as a broken hash chain: it is
// shown as "error: ..." since it is no error of bizevents itself.
type failure struct{ msg string }

func (e *failure) Error() string { return e.msg }

// Flag values with messages a user can act on; the flag package shows them
// as `invalid value "abc" for flag -after: <message>`.

// positionValue is a non-negative integer: a log position, a version, a
// count.
type positionValue struct{ p *int64 }

func (v positionValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.FormatInt(*v.p, 10)
}

func (v positionValue) Set(s string) error {
	n, err := parsePosition(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

func parsePosition(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a non-negative integer")
	}
	return n, nil
}

// intValue is a non-negative int.
type intValue struct{ p *int }

func (v intValue) String() string {
	if v.p == nil {
		return "0"
	}
	return strconv.Itoa(*v.p)
}

func (v intValue) Set(s string) error {
	n, err := parseCount(s)
	if err != nil {
		return err
	}
	*v.p = n
	return nil
}

func parseCount(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, errors.New("want a non-negative integer")
	}
	return n, nil
}

// timeValue is an instant, RFC 3339 ("2025-01-31T12:00:00Z") or a date
// (midnight UTC).
type timeValue struct{ p *time.Time }

func (v timeValue) String() string {
	if v.p == nil || v.p.IsZero() {
		return ""
	}
	return v.p.Format(time.RFC3339Nano)
}

func (v timeValue) Set(s string) error {
	t, err := parseTime(s)
	if err != nil {
		return err
	}
	*v.p = t
	return nil
}

func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, errors.New("want an RFC 3339 time like 2025-01-31T12:00:00Z, or a date like 2025-01-31")
}

// listValue collects a repeatable flag whose values may also be comma
// separated lists.
type listValue struct{ p *[]string }

func (v listValue) String() string {
	if v.p == nil {
		return ""
	}
	return strings.Join(*v.p, ",")
}

func (v listValue) Set(s string) error {
	*v.p = appendList(*v.p, s)
	return nil
}

// appendList appends the non-empty items of a comma separated list.
func appendList(list []string, s string) []string {
	for item := range strings.SplitSeq(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list
}
