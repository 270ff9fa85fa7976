package solution

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/bizevents/bizevents/engine/errcode"
)

// Problem is one thing wrong with a solution.
type Problem struct {
	// File is the file's path relative to the solution folder, with
	// slashes; empty for a problem of the folder itself or of a decoded
	// definition.
	File string `json:"file,omitempty"`
	// Line and Column are 1-based; 0 when unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
	// Message says what is wrong, naming the definition, e.g.
	// `table account: column revenue: unknown type "monee" (want one of ...)`.
	Message string `json:"message"`
}

// String formats the problem as file:line:column: message, leaving out
// what is unknown.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		if p.Line > 0 {
			b.WriteString(":" + strconv.Itoa(p.Line))
			if p.Column > 0 {
				b.WriteString(":" + strconv.Itoa(p.Column))
			}
		}
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Error is a solution that does not validate: every problem found, in file,
// line and column order. Its code is [errcode.InvalidSolution].
type Error struct {
	Problems []Problem
}

// Error prints one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// ErrorCode returns [errcode.InvalidSolution].
func (e *Error) ErrorCode() errcode.Code { return errcode.InvalidSolution }

// problems collects problems as they are found.
type problems struct {
	list []Problem
}

func (ps *problems) add(at origin, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: at.file, Line: at.line(), Column: at.column(), Message: fmt.Sprintf(format, args...)})
}

func (ps *problems) empty() bool { return len(ps.list) == 0 }

// err returns the problems as an *Error, sorted and without repeats, or
// nil when there are none.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	list := slices.Clone(ps.list)
	slices.SortFunc(list, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.File, b.File), cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column),
			cmp.Compare(a.Message, b.Message))
	})
	list = slices.Compact(list)
	return &Error{Problems: list}
}
