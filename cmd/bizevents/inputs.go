package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/bizevents/bizevents/engine/inputs"
	"github.com/bizevents/bizevents/engine/pipeline"
	"github.com/bizevents/bizevents/engine/solution"
)

// inputSet is serve's broker inputs: the imported solutions' inputs run by
// one inputs.Runner, started again with the new set when an import
// changes them.
type inputSet struct {
	e      *pipeline.Engine
	getenv func(string) string
	cfg    inputs.Config
	log    *slog.Logger

	mu sync.Mutex
	// last is the definitions the set was read for; want the inputs they
	// have, running when r is not nil.
	last *pipeline.Definitions
	want []inputs.Input
	r    *inputs.Runner
	// skipped is the inputs not configured, logged when it changes.
	skipped []solution.SkippedInput
}

// startInputs runs the inputs of the imported solutions (env:NAME values
// read through getenv) and follows imports, checking whenever the engine's
// definitions change, until stop. An input that cannot start (a broker
// down, a variable not set) fails startInputs, and is logged and tried
// again after a later import. An input whose URL's env: variable is not
// set is not configured: it is logged as skipped, and the others run.
func startInputs(ctx context.Context, e *pipeline.Engine, getenv func(string) string, logger *slog.Logger) (stop func(context.Context) error, err error) {
	s := &inputSet{e: e, getenv: getenv, cfg: inputs.Config{Logger: logger}, log: logger.With(logKeyComponent, "inputs")}
	if err := s.sync(ctx); err != nil {
		return nil, err
	}
	watchCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		t := time.NewTicker(solutionWatchInterval)
		defer t.Stop()
		for {
			select {
			case <-watchCtx.Done():
				return
			case <-t.C:
				if err := s.sync(watchCtx); err != nil {
					s.log.WarnContext(watchCtx, "start the inputs", logKeyErr, err)
				}
			}
		}
	}()
	return func(ctx context.Context) error {
		cancel()
		<-done
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.r == nil {
			return nil
		}
		err := s.r.Stop(ctx)
		s.r = nil
		return err
	}, nil
}

// sync makes the running inputs those of the imported solutions.
func (s *inputSet) sync(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	defs := s.e.Definitions()
	if defs == s.last && (s.r != nil || len(s.want) == 0) {
		return nil
	}
	sols, err := solution.Imported(ctx, s.e.DB())
	if err != nil {
		return fmt.Errorf("read the solutions: %w", err)
	}
	want, skipped, err := solution.Inputs(sols, s.getenv)
	if !slices.Equal(skipped, s.skipped) {
		for _, sk := range skipped {
			s.log.InfoContext(ctx, "input not configured, skipped", "input", sk.Input, "solution", sk.Solution, "variable", sk.Variable)
		}
		s.skipped = skipped
	}
	if err != nil {
		s.last = defs
		return err
	}
	if s.r != nil && reflect.DeepEqual(want, s.want) {
		s.last = defs
		return nil
	}
	if s.r != nil {
		sctx, cancel := context.WithTimeout(ctx, inputs.DefaultCloseTimeout)
		err := s.r.Stop(sctx)
		cancel()
		s.r = nil
		if err != nil {
			s.log.WarnContext(ctx, "stop the inputs", logKeyErr, err)
		}
	}
	s.last, s.want = defs, want
	if len(want) == 0 {
		return nil
	}
	r, err := inputs.New(s.e, want, s.cfg)
	if err != nil {
		return err
	}
	if err := r.Start(ctx); err != nil {
		return fmt.Errorf("start the inputs: %w", err)
	}
	s.r = r
	return nil
}
