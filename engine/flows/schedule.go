package flows

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/bizevents/bizevents/engine/eventlog"
)

// A scheduled flow's runs start from ticks in the log: at each tick of its
// recurrence, [Runtime.Schedule] appends a bizevents.FlowScheduled event for
// the flow, and the flow's subscription turns it into a run like any other
// trigger event. A tick's stream is "flowschedule/<flow>/<tick>", appended
// only when new, so that several engine processes (or a restarted one)
// append each tick once. Ticks missed while no engine ran are not made up:
// the next run is at the next tick.

// TickStream is the stream of a schedule's tick.
func TickStream(flow string, tick int64) string {
	return "flowschedule/" + flow + "/" + strconv.FormatInt(tick, 10)
}

// Schedule appends the ticks of the scheduled flows until ctx ends,
// checking every resolution (at most a second). onErr, when not nil, hears
// of ticks that could not be appended (they are tried again).
func (r *Runtime) Schedule(ctx context.Context, log eventlog.Store, resolution time.Duration, onErr func(error)) {
	if resolution <= 0 || resolution > time.Second {
		resolution = time.Second
	}
	last := map[string]int64{} // flow → last tick appended or seen
	t := time.NewTicker(resolution)
	defer t.Stop()
	for {
		r.tick(ctx, log, last, onErr)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *Runtime) tick(ctx context.Context, log eventlog.Store, last map[string]int64, onErr func(error)) {
	now := r.cfg.Now()
	for _, f := range r.Flows() {
		if f.Kind != TriggerSchedule || f.Def.Disabled || now.Before(f.Start) {
			continue
		}
		n := int64(now.Sub(f.Start) / f.Every)
		if prev, ok := last[f.Def.Name]; ok && prev >= n {
			continue
		}
		at := f.Start.Add(time.Duration(n) * f.Every)
		data, _ := json.Marshal(scheduled{Flow: f.Def.Name, Tick: n, ScheduledTime: at})
		stream := TickStream(f.Def.Name, n)
		_, err := log.Append(ctx, eventlog.AppendRequest{
			Events: []eventlog.NewEvent{{StreamID: stream, Type: ScheduleEventType, Data: data,
				Metadata: eventlog.Metadata{Solution: f.Solution}}},
			Expect: map[string]int64{stream: eventlog.NoStream},
		})
		var conflict *eventlog.VersionConflictError
		switch {
		case err == nil, errors.As(err, &conflict):
			last[f.Def.Name] = n
		case onErr != nil && ctx.Err() == nil:
			onErr(err)
		}
	}
}
