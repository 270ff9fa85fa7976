package flows

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/errcode"
	"github.com/bizevents/bizevents/engine/jobs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/tables"
)

// runNamespace derives the stable ids of what a run does (request ids, the
// ids of the rows it creates) from the run and the action's path, so that
// an action repeated after a crash is recognised.
var runNamespace = uuid.MustParse("6f0d5c38-8b0e-4d43-9a53-2b1f3b0c7a11")

func (s *runState) stableID(path string) uuid.UUID {
	return uuid.NewSHA1(runNamespace, []byte(s.id+"/"+path))
}

// execute runs a message through the pipeline: custom API invocations
// carry an idempotency key and Creates a stable row id, so that an action
// repeated after a crash does not run twice.
func (s *runState) execute(ctx context.Context, a *action, path string, fr *frame, rec *ActionRecord) (result, error) {
	req := pipeline.Request{Message: a.message, Table: a.table, Columns: a.columns, Caller: s.caller,
		CorrelationID: s.correlation, RequestID: s.stableID(path)}
	if s.cause != uuid.Nil {
		req.Cause = &pipeline.Cause{EventID: s.cause, Depth: s.depth}
	}
	inputs := map[string]any{"message": a.message}
	if a.table != "" {
		inputs["table"] = a.table
	}
	var err error
	if a.id != nil {
		if req.ID, err = s.evalID(ctx, a.id, fr, "id"); err != nil {
			return result{}, err
		}
		inputs["id"] = req.ID.String()
	}
	if a.owner != nil {
		if req.Owner, err = s.evalID(ctx, a.owner, fr, "owner"); err != nil {
			return result{}, err
		}
		inputs["owner"] = req.Owner.String()
	}
	if a.target != nil {
		if req.Target, err = a.target.evalMap(ctx, fr.vals); err != nil {
			return result{}, err
		}
		inputs["target"] = req.Target
	}
	if a.params != nil {
		if req.Parameters, err = a.params.evalMap(ctx, fr.vals); err != nil {
			return result{}, err
		}
		inputs["parameters"] = req.Parameters
	}
	defs := s.rt.set.Load().defs
	var t *tables.Table
	if defs != nil && a.table != "" {
		t, _ = defs.Table(a.table)
	}
	if a.message == pipeline.RetrieveMultiple {
		q := &tables.Query{Top: a.top, Select: a.columns}
		if a.filter != nil {
			f, err := a.filter.evalString(ctx, fr.vals)
			if err != nil {
				return result{}, err
			}
			if f != "" && t != nil {
				if q.Filter, err = tables.ParseFilter(t, f); err != nil {
					return result{}, &valueError{msg: "filter: " + err.Error()}
				}
			}
			inputs["filter"] = f
		}
		req.Query = q
	}
	if a.api != nil && !a.api.IsFunction {
		req.IdempotencyKey = "flow/" + s.id + "/" + path
	}
	create := a.message == pipeline.Create && req.ID == uuid.Nil
	if create {
		req.ID = s.stableID(path + "#row")
	}
	rec.Inputs = inputs
	attempts, err := retry(ctx, a.retry, func() (time.Duration, bool, error) {
		resp, err := s.svc.Execute(ctx, req)
		if err != nil && create && isDuplicate(err) {
			// An earlier attempt created the row: take it.
			resp, err = s.svc.Execute(ctx, pipeline.Request{Message: pipeline.Retrieve, Table: a.table, ID: req.ID, Caller: s.caller, CorrelationID: s.correlation})
		}
		if err != nil {
			return 0, retryableExecute(err), err
		}
		rec.Outputs = executeOutputs(t, resp)
		return 0, false, nil
	})
	rec.Attempts = attempts
	if err != nil {
		return result{}, err
	}
	return result{outputs: rec.Outputs}, nil
}

func (s *runState) evalID(ctx context.Context, v *value, fr *frame, what string) (uuid.UUID, error) {
	x, err := v.eval(ctx, fr.vals)
	if err != nil {
		return uuid.Nil, err
	}
	if m, ok := x.(map[string]any); ok { // an entity reference
		x = m["id"]
	}
	str, _ := x.(string)
	id, err := uuid.Parse(str)
	if err != nil {
		return uuid.Nil, &valueError{msg: fmt.Sprintf("%s %v is not a GUID", what, x)}
	}
	return id, nil
}

func isDuplicate(err error) bool {
	switch errcode.Of(err) {
	case errcode.Duplicate, errcode.VersionConflict:
		return true
	}
	return false
}

// retryableExecute says whether a failed message may succeed if sent
// again.
func retryableExecute(err error) bool {
	switch errcode.Of(err) {
	case errcode.Unavailable, errcode.VersionConflict, errcode.RateLimited, errcode.Internal:
		return true
	}
	return false
}

func executeOutputs(t *tables.Table, resp pipeline.Response) map[string]any {
	out := map[string]any{"version": resp.Version, "eventId": ""}
	if resp.ID != uuid.Nil {
		out["id"] = resp.ID.String()
	}
	if resp.EventID != uuid.Nil {
		out["eventId"] = resp.EventID.String()
	}
	if t != nil && resp.Row != nil {
		out["row"] = jsonShape(t.Output(resp.Row, nil))
	}
	if t != nil && resp.Rows != nil {
		rows := make([]any, len(resp.Rows))
		for i, r := range resp.Rows {
			rows[i] = jsonShape(t.Output(r, nil))
		}
		out["rows"] = rows
		out["more"] = resp.More
	}
	if resp.Output != nil {
		out["output"] = jsonShape(resp.Output)
	}
	return out
}

// jsonShape turns a value into what decoding its JSON gives (numbers as
// json.Number), as records are read back.
func jsonShape(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return v
	}
	return out
}

// retry calls attempt until it succeeds, fails for good, or the policy's
// attempts are spent; attempt returns a delay it asks for (Retry-After),
// and whether its failure may be retried.
func retry(ctx context.Context, p jobs.Policy, attempt func() (time.Duration, bool, error)) (int, error) {
	n := 0
	for {
		n++
		after, retryable, err := attempt()
		if err == nil || !retryable || n >= p.MaxAttempts || ctx.Err() != nil {
			return n, err
		}
		d := max(p.Backoff(n), min(after, p.MaxDelay))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return n, err
		case <-t.C:
		}
	}
}

// HTTPError is an HTTP action's response with a status it does not
// accept.
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("HTTP %d", e.Status)
	}
	return fmt.Sprintf("HTTP %d: %s", e.Status, e.Body)
}

// ErrorCode is unavailable for a status a retry may fix (408, 429, 5xx),
// handler_failed for another.
func (e *HTTPError) ErrorCode() errcode.Code {
	if retryableStatus(e.Status) {
		return errcode.Unavailable
	}
	return errcode.HandlerFailed
}

func retryableStatus(s int) bool {
	return s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500 && s != http.StatusNotImplemented
}

// maxErrorBody caps the response excerpt an HTTPError keeps.
const maxErrorBody = 512

// http sends an HTTP request, retrying a network failure or a 408, 429 or
// 5xx per the action's policy (honouring Retry-After). Each request carries
// an Idempotency-Key stable across retries and resumed runs.
func (s *runState) http(ctx context.Context, a *action, path string, fr *frame, rec *ActionRecord) (result, error) {
	raw, err := a.url.evalString(ctx, fr.vals)
	if err != nil {
		return result{}, err
	}
	if raw, err = s.env(raw); err != nil {
		return result{}, err
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return result{}, &valueError{msg: fmt.Sprintf("url %q is not an http or https URL", raw)}
	}
	if a.query != nil {
		qm, err := a.query.evalMap(ctx, fr.vals)
		if err != nil {
			return result{}, err
		}
		q := u.Query()
		for k, v := range qm {
			q.Set(k, fmt.Sprint(v))
		}
		u.RawQuery = q.Encode()
	}
	headers := http.Header{}
	if a.headers != nil {
		hm, err := a.headers.evalMap(ctx, fr.vals)
		if err != nil {
			return result{}, err
		}
		for k, v := range hm {
			headers.Set(k, fmt.Sprint(v))
		}
	}
	var body []byte
	var shown any
	if a.body != nil {
		b, err := a.body.eval(ctx, fr.vals)
		if err != nil {
			return result{}, err
		}
		shown = b
		switch b := b.(type) {
		case string:
			body = []byte(b)
			if headers.Get("Content-Type") == "" {
				headers.Set("Content-Type", "text/plain; charset=utf-8")
			}
		default:
			if body, err = json.Marshal(b); err != nil {
				return result{}, &valueError{msg: "body: " + err.Error()}
			}
			if headers.Get("Content-Type") == "" {
				headers.Set("Content-Type", "application/json")
			}
		}
	}
	shownHeaders := map[string]any{}
	for k := range headers {
		shownHeaders[k] = headers.Get(k)
	}
	if err := s.authorize(headers, a.auth); err != nil {
		return result{}, err
	}
	headers.Set("Idempotency-Key", s.id+"/"+path)
	if headers.Get("User-Agent") == "" {
		headers.Set("User-Agent", "bizevents-flows")
	}
	rec.Inputs = map[string]any{"method": a.method, "url": u.Redacted(), "headers": shownHeaders, "body": shown}
	attempts, err := retry(ctx, a.retry, func() (time.Duration, bool, error) {
		out, after, err := s.send(ctx, a, u.String(), headers, body)
		if err != nil {
			var he *HTTPError
			if errors.As(err, &he) {
				rec.Outputs = out
				return after, retryableStatus(he.Status), err
			}
			return 0, ctx.Err() == nil, err
		}
		rec.Outputs = out
		return 0, false, nil
	})
	rec.Attempts = attempts
	if err != nil {
		return result{outputs: rec.Outputs, keepOutputs: true}, err
	}
	return result{outputs: rec.Outputs}, nil
}

func (s *runState) send(ctx context.Context, a *action, target string, headers http.Header, body []byte) (map[string]any, time.Duration, error) {
	tctx, cancel := context.WithTimeout(ctx, s.rt.cfg.HTTPTimeout)
	defer cancel()
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(tctx, a.method, target, rd)
	if err != nil {
		return nil, 0, &valueError{msg: err.Error()}
	}
	req.Header = headers.Clone()
	resp, err := s.rt.cfg.HTTP.Do(req)
	if err != nil {
		return nil, 0, &unavailableError{err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, s.rt.cfg.MaxBodyBytes+1))
	if err != nil {
		return nil, 0, &unavailableError{err: err}
	}
	if int64(len(data)) > s.rt.cfg.MaxBodyBytes {
		return nil, 0, &valueError{msg: fmt.Sprintf("response body over %d bytes", s.rt.cfg.MaxBodyBytes)}
	}
	hs := map[string]any{}
	for k, v := range resp.Header {
		hs[k] = strings.Join(v, ", ")
	}
	out := map[string]any{"status": resp.StatusCode, "headers": hs, "body": decodeBody(resp.Header.Get("Content-Type"), data)}
	ok := resp.StatusCode >= 200 && resp.StatusCode < 300
	if len(a.accept) > 0 {
		ok = false
		for _, st := range a.accept {
			ok = ok || st == resp.StatusCode
		}
	}
	if !ok {
		excerpt := string(data)
		if len(excerpt) > maxErrorBody {
			excerpt = excerpt[:maxErrorBody] + "…"
		}
		return out, retryAfter(resp.Header.Get("Retry-After")), &HTTPError{Status: resp.StatusCode, Body: excerpt}
	}
	return out, 0, nil
}

func decodeBody(contentType string, data []byte) any {
	if len(data) == 0 {
		return nil
	}
	mt, _, _ := mime.ParseMediaType(contentType)
	if mt == "application/json" || strings.HasSuffix(mt, "+json") {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err == nil {
			return v
		}
	}
	return string(data)
}

func retryAfter(h string) time.Duration {
	if h == "" {
		return 0
	}
	if n, err := strconv.Atoi(h); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(h); err == nil {
		return time.Until(t)
	}
	return 0
}

type unavailableError struct{ err error }

func (e *unavailableError) Error() string           { return e.err.Error() }
func (e *unavailableError) Unwrap() error           { return e.err }
func (e *unavailableError) ErrorCode() errcode.Code { return errcode.Unavailable }

// env reads a value written env:NAME.
func (s *runState) env(v string) (string, error) {
	name, ok := strings.CutPrefix(v, "env:")
	if !ok {
		return v, nil
	}
	x := s.rt.cfg.Getenv(name)
	if x == "" {
		return "", &valueError{msg: fmt.Sprintf("environment variable %s is not set", name)}
	}
	return x, nil
}

func (s *runState) authorize(h http.Header, auth *HTTPAuthDef) error {
	if auth == nil {
		return nil
	}
	val, err := s.env(auth.Value)
	if err != nil {
		return err
	}
	switch auth.Type {
	case "basic":
		user, err := s.env(auth.Name)
		if err != nil {
			return err
		}
		r := http.Request{Header: h}
		r.SetBasicAuth(user, val)
	case "bearer":
		h.Set("Authorization", "Bearer "+val)
	case "header":
		h.Set(auth.Name, val)
	}
	return nil
}
