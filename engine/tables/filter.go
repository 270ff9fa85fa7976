package tables

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/google/uuid"
)

// Limits of a $filter, so that a request cannot exhaust the stack or the
// database's parameters.
const (
	maxFilterLength = 32 << 10
	maxFilterDepth  = 64
	maxInValues     = 1000
)

// ParseFilter parses an OData $filter against the table. An empty (or blank)
// filter gives nil, which keeps every row.
//
// The supported subset:
//
//   - comparisons: column eq|ne|gt|ge|lt|le literal (the literal may also
//     come first: 5 lt quantity); column in (literal, ...)
//   - logic: and, or, not, parentheses; not binds tighter than and, and
//     tighter than or
//   - a boolean column alone means column eq true
//   - functions: contains(column,'text'), startswith(column,'text'),
//     endswith(column,'text') on string columns, ignoring the case of ASCII
//     letters; the text matches literally (% and _ are not wildcards)
//   - literals: null, true, false, numbers (12, -3, 2.50, 1e3), 'strings'
//     (a quote inside is doubled, see below), GUIDs unquoted, datetimes
//     unquoted (2026-01-02T03:04:05Z, with a fraction or an offset; a date
//     2026-01-02 is its midnight UTC)
//   - columns: the table's columns, its primary key, createdon, modifiedon,
//     ownerid, versionnumber; a lookup x (and ownerid) also as _x_value
//
// For example:
//
//	name eq 'O''Brien' and (revenue gt 1000.50 or not isactive)
//	createdon ge 2026-01-01T00:00:00Z and _parentaccountid_value eq 5e1c2b8a-7d3e-4f7a-9b1e-2c3d4e5f6a7b
//	statuscode in (1,2) and startswith(name,'Con') and description ne null
//
// Literals must fit the column: a number for a numeric column, a string for a
// string column, a GUID (or a quoted one) for a guid or lookup, a datetime
// (or a quoted one) for a datetime, a whole number for a choice.
//
// Semantics follow OData rather than SQL where they differ: column eq null
// is true for rows without a value, and column ne 'x' is true for rows
// without a value too; a comparison with null by gt, ge, lt or le is an
// error. Strings compare by their bytes (UTF-8), case-sensitively for eq and
// ne. Numbers compare by value (10.10 gt 9.9; exactly on PostgreSQL, as
// 64-bit floats on SQLite, so exact to 15 significant digits); datetimes by time, at
// microsecond precision; lookups by the referenced row's id.
//
// Outside the subset (errcode.NotSupported): arithmetic (add, sub, mul, div,
// mod), has, other functions (tolower, year, now, any, all, ...), navigation
// paths (a/b), parameter aliases (@p), qualified names
// (Microsoft.Dynamics.CRM.*), comparing two columns or two literals, and
// comparing a function's result. Unknown columns, malformed syntax and
// literals of the wrong type are errcode.InvalidArgument. Both are
// *QueryError, with the offset of the problem.
func ParseFilter(t *Table, s string) (Expr, error) {
	if len(s) > maxFilterLength {
		return nil, invalidArg("$filter", -1, "the filter is longer than %d bytes", maxFilterLength)
	}
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	if len(toks) == 1 {
		return nil, nil
	}
	p := &parser{t: t, toks: toks}
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	if tok := p.peek(); tok.kind != tEOF {
		if tok.kind == tRParen {
			return nil, p.errAt(tok, "unbalanced parentheses: no ( for this )")
		}
		return nil, p.errAt(tok, "unexpected %s; want and, or or the end of the filter", tok)
	}
	return e, nil
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tString
	tNumber
	tGUID
	tTime
	tLParen
	tRParen
	tComma
)

type token struct {
	kind tokKind
	text string // the source text (a string's unquoted value)
	pos  int
	val  any // a literal's value: string, Number, uuid.UUID, time.Time
}

func (t token) String() string {
	switch t.kind {
	case tEOF:
		return "end of filter"
	case tString:
		return fmt.Sprintf("string '%s'", t.text)
	}
	return fmt.Sprintf("%q", t.text)
}

var (
	guidToken   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}`)
	timeToken   = regexp.MustCompile(`^[0-9]{4}-[0-9]{2}-[0-9]{2}(?:T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?(?:Z|[+-][0-9]{2}:[0-9]{2}))?`)
	numberToken = regexp.MustCompile(`^-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?`)
	identToken  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*`)
)

func isIdentChar(c byte) bool {
	return c == '_' || isDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

// lex splits a filter into tokens, ending with tEOF.
func lex(s string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(s) {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(':
			toks = append(toks, token{kind: tLParen, text: "(", pos: i})
			i++
		case c == ')':
			toks = append(toks, token{kind: tRParen, text: ")", pos: i})
			i++
		case c == ',':
			toks = append(toks, token{kind: tComma, text: ",", pos: i})
			i++
		case c == '\'':
			var b strings.Builder
			j := i + 1
			for {
				if j >= len(s) {
					return nil, invalidArg("$filter", i, "unterminated string")
				}
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				b.WriteByte(s[j])
				j++
			}
			toks = append(toks, token{kind: tString, text: b.String(), pos: i, val: b.String()})
			i = j + 1
		case c == '-' || isIdentChar(c):
			tok, n, err := lexWord(s[i:], i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, tok)
			i += n
		case c == '/':
			return nil, notSupported("$filter", i, "navigation paths (/) are not supported")
		case c == '@':
			return nil, notSupported("$filter", i, "parameter aliases (@) are not supported")
		case c == ':':
			return nil, notSupported("$filter", i, "lambda operators (any, all) are not supported")
		case c == '.':
			return nil, notSupported("$filter", i, "qualified names (.) are not supported")
		default:
			return nil, invalidArg("$filter", i, "unexpected character %q", rune(c))
		}
	}
	return append(toks, token{kind: tEOF, pos: len(s)}), nil
}

// lexWord reads a GUID, a datetime, a number or an identifier at the start
// of s, which is at offset pos of the filter.
func lexWord(s string, pos int) (token, int, error) {
	type try struct {
		re   *regexp.Regexp
		kind tokKind
	}
	for _, t := range []try{{guidToken, tGUID}, {timeToken, tTime}, {numberToken, tNumber}, {identToken, tIdent}} {
		m := t.re.FindString(s)
		if m == "" {
			continue
		}
		if len(m) < len(s) && (isIdentChar(s[len(m)]) || (t.kind != tIdent && (s[len(m)] == '.' || s[len(m)] == ':'))) {
			break
		}
		tok := token{kind: t.kind, text: m, pos: pos}
		switch t.kind {
		case tGUID:
			id, err := uuid.Parse(m)
			if err != nil {
				return token{}, 0, invalidArg("$filter", pos, "%q is not a GUID", m)
			}
			tok.val = id
		case tTime:
			tm, err := parseTime(m)
			if err != nil {
				return token{}, 0, invalidArg("$filter", pos, "%q is not a valid date and time", m)
			}
			tok.val = tm.UTC()
		case tNumber:
			n, err := ParseNumber(m)
			if err != nil {
				return token{}, 0, invalidArg("$filter", pos, "%s", err)
			}
			tok.val = n
		}
		return tok, len(m), nil
	}
	end := 1
	for end < len(s) && (isIdentChar(s[end]) || s[end] == '-' || s[end] == '.' || s[end] == ':') {
		end++
	}
	return token{}, 0, invalidArg("$filter", pos, "unexpected %q", s[:end])
}

type parser struct {
	t     *Table
	toks  []token
	i     int
	depth int
}

func (p *parser) peek() token { return p.toks[p.i] }

func (p *parser) next() token {
	tok := p.toks[p.i]
	if tok.kind != tEOF {
		p.i++
	}
	return tok
}

func (p *parser) errAt(tok token, format string, args ...any) error {
	return invalidArg("$filter", tok.pos, format, args...)
}

func (p *parser) isKeyword(word string) bool {
	tok := p.peek()
	return tok.kind == tIdent && tok.text == word
}

func (p *parser) enter(tok token) error {
	p.depth++
	if p.depth > maxFilterDepth {
		return p.errAt(tok, "the filter is nested more than %d levels deep", maxFilterDepth)
	}
	return nil
}

func (p *parser) parseOr() (Expr, error) {
	left, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("or") {
		p.next()
		right, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		left = Or{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseAnd() (Expr, error) {
	left, err := p.parseUnary()
	if err != nil {
		return nil, err
	}
	for p.isKeyword("and") {
		p.next()
		right, err := p.parseUnary()
		if err != nil {
			return nil, err
		}
		left = And{Left: left, Right: right}
	}
	return left, nil
}

func (p *parser) parseUnary() (Expr, error) {
	if p.isKeyword("not") {
		tok := p.next()
		if err := p.enter(tok); err != nil {
			return nil, err
		}
		x, err := p.parseUnary()
		p.depth--
		if err != nil {
			return nil, err
		}
		return Not{X: x}, nil
	}
	return p.parsePrimary()
}

// operand is one side of a comparison: a column or a literal.
type operand struct {
	tok   token
	col   field
	isCol bool
	lit   any
}

var compareOps = map[string]CompareOp{"eq": Eq, "ne": Ne, "gt": Gt, "ge": Ge, "lt": Lt, "le": Le}

var unsupportedOps = map[string]bool{"add": true, "sub": true, "mul": true, "div": true, "divby": true, "mod": true, "has": true}

func (p *parser) parsePrimary() (Expr, error) {
	tok := p.peek()
	switch tok.kind {
	case tLParen:
		p.next()
		if err := p.enter(tok); err != nil {
			return nil, err
		}
		e, err := p.parseOr()
		p.depth--
		if err != nil {
			return nil, err
		}
		if end := p.next(); end.kind != tRParen {
			if end.kind == tEOF {
				return nil, p.errAt(tok, "unbalanced parentheses: this ( is never closed")
			}
			return nil, p.errAt(end, "unexpected %s; want )", end)
		}
		return e, nil
	case tIdent:
		if p.toks[p.i+1].kind == tLParen {
			return p.parseFunc()
		}
	}
	left, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	opTok := p.peek()
	if opTok.kind == tIdent {
		if op, ok := compareOps[opTok.text]; ok {
			p.next()
			return p.parseCompare(left, op, opTok)
		}
		if opTok.text == "in" {
			p.next()
			return p.parseIn(left)
		}
		if unsupportedOps[opTok.text] {
			return nil, notSupported("$filter", opTok.pos, "the operator %s is not supported", opTok.text)
		}
	}
	if left.isCol && left.col.col.Type == Boolean {
		return Compare{Column: left.col.name, Op: Eq, Value: true}, nil
	}
	if left.isCol {
		return nil, p.errAt(opTok, "unexpected %s after column %s; want a comparison operator (eq, ne, gt, ge, lt, le, in)", opTok, left.col.name)
	}
	return nil, p.errAt(opTok, "unexpected %s after a literal; want a comparison operator", opTok)
}

// parseOperand reads a column or a literal.
func (p *parser) parseOperand() (operand, error) {
	tok := p.next()
	switch tok.kind {
	case tString, tNumber, tGUID, tTime:
		return operand{tok: tok, lit: tok.val}, nil
	case tIdent:
		switch tok.text {
		case "null":
			return operand{tok: tok, lit: nil}, nil
		case "true":
			return operand{tok: tok, lit: true}, nil
		case "false":
			return operand{tok: tok, lit: false}, nil
		}
		if _, ok := compareOps[tok.text]; ok || tok.text == "and" || tok.text == "or" || tok.text == "in" {
			return operand{}, p.errAt(tok, "unexpected %s; want a column or a literal", tok.text)
		}
		if p.peek().kind == tLParen {
			return operand{}, notSupported("$filter", tok.pos, "comparing the result of function %s is not supported", tok.text)
		}
		f, ok := p.t.queryField(tok.text)
		if !ok {
			return operand{}, p.errAt(tok, "unknown column %q of table %s", tok.text, p.t.LogicalName)
		}
		return operand{tok: tok, col: f, isCol: true}, nil
	case tEOF:
		return operand{}, p.errAt(tok, "unexpected end of filter; want a column or a literal")
	}
	return operand{}, p.errAt(tok, "unexpected %s; want a column or a literal", tok)
}

var mirrored = map[CompareOp]CompareOp{Eq: Eq, Ne: Ne, Gt: Lt, Ge: Le, Lt: Gt, Le: Ge}

func (p *parser) parseCompare(left operand, op CompareOp, opTok token) (Expr, error) {
	right, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	switch {
	case left.isCol && right.isCol:
		return nil, notSupported("$filter", opTok.pos, "comparing two columns is not supported")
	case !left.isCol && !right.isCol:
		return nil, notSupported("$filter", left.tok.pos, "a comparison needs a column on one side")
	case !left.isCol:
		left, right = right, left
		op = mirrored[op]
	}
	if right.lit == nil && op != Eq && op != Ne {
		return nil, p.errAt(right.tok, "column %s cannot be compared with null by %s; use eq null or ne null", left.col.name, op)
	}
	v, reason := filterValue(left.col, right.lit)
	if reason != "" {
		return nil, p.errAt(right.tok, "cannot compare column %s (%s) with %s: %s", left.col.name, left.col.col.Type, right.tok.text, reason)
	}
	return Compare{Column: left.col.name, Op: op, Value: v}, nil
}

func (p *parser) parseIn(left operand) (Expr, error) {
	if !left.isCol {
		return nil, notSupported("$filter", left.tok.pos, "in needs a column on its left")
	}
	open := p.next()
	if open.kind != tLParen {
		return nil, p.errAt(open, "unexpected %s; want ( after in", open)
	}
	var values []any
	for {
		lit, err := p.parseOperand()
		if err != nil {
			return nil, err
		}
		if lit.isCol {
			return nil, notSupported("$filter", lit.tok.pos, "in takes literals, not columns")
		}
		if lit.lit == nil {
			return nil, p.errAt(lit.tok, "in cannot hold null; use eq null")
		}
		v, reason := filterValue(left.col, lit.lit)
		if reason != "" {
			return nil, p.errAt(lit.tok, "cannot compare column %s (%s) with %s: %s", left.col.name, left.col.col.Type, lit.tok.text, reason)
		}
		values = append(values, v)
		if len(values) > maxInValues {
			return nil, p.errAt(lit.tok, "in holds more than %d values", maxInValues)
		}
		sep := p.next()
		if sep.kind == tRParen {
			break
		}
		if sep.kind != tComma {
			if sep.kind == tEOF {
				return nil, p.errAt(open, "unbalanced parentheses: this ( is never closed")
			}
			return nil, p.errAt(sep, "unexpected %s; want , or )", sep)
		}
	}
	return In{Column: left.col.name, Values: values}, nil
}

var matchFuncs = map[string]MatchFunc{"contains": Contains, "startswith": StartsWith, "endswith": EndsWith}

func (p *parser) parseFunc() (Expr, error) {
	name := p.next()
	fn, ok := matchFuncs[name.text]
	if !ok {
		return nil, notSupported("$filter", name.pos, "function %s is not supported; the supported functions are contains, startswith and endswith", name.text)
	}
	p.next() // (
	col, err := p.parseOperand()
	if err != nil {
		return nil, err
	}
	if !col.isCol {
		return nil, notSupported("$filter", col.tok.pos, "%s needs a column as its first argument", fn)
	}
	if col.col.col.Type != String {
		return nil, p.errAt(col.tok, "%s needs a string column; %s is %s", fn, col.col.name, col.col.col.Type)
	}
	if sep := p.next(); sep.kind != tComma {
		return nil, p.errAt(sep, "unexpected %s; want , and a string", sep)
	}
	lit := p.next()
	if lit.kind != tString {
		return nil, p.errAt(lit, "%s needs a string literal as its second argument, got %s", fn, lit)
	}
	if reason := checkText(lit.text); reason != "" {
		return nil, p.errAt(lit, "the string %s", reason)
	}
	if end := p.next(); end.kind != tRParen {
		if end.kind == tEOF {
			return nil, p.errAt(name, "unbalanced parentheses: this function's ( is never closed")
		}
		return nil, p.errAt(end, "unexpected %s; want )", end)
	}
	if next := p.peek(); next.kind == tIdent {
		if _, ok := compareOps[next.text]; ok {
			return nil, notSupported("$filter", next.pos, "comparing the result of %s is not supported; use it alone or with not", fn)
		}
	}
	return Match{Func: fn, Column: col.col.name, Value: lit.text}, nil
}

// filterValue converts a literal (or a value of an Expr built in Go) to
// what a comparison with the field uses: a Number for a numeric column of
// data, an int64 for a choice and versionnumber, a uuid.UUID for a guid,
// lookup, the primary key and ownerid, and the column's type otherwise. It
// returns the reason the value does not fit, or "".
func filterValue(f field, v any) (any, string) {
	if v == nil {
		return nil, ""
	}
	switch f.col.Type {
	case Integer, Decimal, Money, Float:
		if f.sys != "" {
			return coerce(&f.col, v)
		}
		n, reason := toNumber(v, false)
		if reason != "" {
			return nil, reason
		}
		return n, ""
	case GUID:
		id, reason := toUUID(v)
		if reason != "" {
			return nil, reason
		}
		return id, ""
	case Lookup:
		ref, reason := toReference(f.col.Target, v)
		if reason != "" {
			return nil, reason
		}
		return ref.(Reference).ID, ""
	}
	return coerce(&f.col, v)
}
