package plugins

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/bizevents/bizevents/engine/pipeline"
)

// Trace is what one plugin call wrote (its trace lines, stdout and stderr,
// in order), with where it ran: the plugin trace log of Dataverse.
type Trace struct {
	Module  string
	Hash    string
	Handler string
	// Step is the step's name; "" for a main operation.
	Step          string
	Message       string
	Table         string
	Stage         pipeline.Stage
	Mode          pipeline.Mode
	Depth         int
	CorrelationID uuid.UUID
	RequestID     uuid.UUID
	// OperationTime is the message's time; Start and Duration the call's
	// own, on the host's clock.
	OperationTime time.Time
	Start         time.Time
	Duration      time.Duration
	Lines         []string
	// Dropped counts the lines beyond the caps, which are not in Lines.
	Dropped int
	// Err is how the call failed, or nil.
	Err error
}

// TraceSink receives plugin traces. WriteTrace is called after each call
// that wrote a line or failed, on the calling goroutine, possibly from
// many goroutines at once; it must be quick and must not keep t.Lines
// beyond its own use if it changes them. A sink that stores traces owns
// its errors.
type TraceSink interface {
	WriteTrace(ctx context.Context, t Trace)
}

// MemorySink keeps the last traces in memory, for tests and the
// command line. It is safe for concurrent use.
type MemorySink struct {
	mu     sync.Mutex
	max    int
	traces []Trace
}

// NewMemorySink returns a sink that keeps the last max traces (1000 when
// max <= 0).
func NewMemorySink(max int) *MemorySink {
	if max <= 0 {
		max = 1000
	}
	return &MemorySink{max: max}
}

// WriteTrace keeps t.
func (s *MemorySink) WriteTrace(_ context.Context, t Trace) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.traces) == s.max {
		copy(s.traces, s.traces[1:])
		s.traces = s.traces[:len(s.traces)-1]
	}
	s.traces = append(s.traces, t)
}

// Traces returns the kept traces, oldest first.
func (s *MemorySink) Traces() []Trace {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Trace(nil), s.traces...)
}

// ByCorrelation returns the kept traces of one correlation id.
func (s *MemorySink) ByCorrelation(id uuid.UUID) []Trace {
	var out []Trace
	for _, t := range s.Traces() {
		if t.CorrelationID == id {
			out = append(out, t)
		}
	}
	return out
}

var _ TraceSink = (*MemorySink)(nil)

// traceBuf collects one call's lines under the caps.
type traceBuf struct {
	maxLines, maxBytes int
	lines              []string
	bytes              int
	dropped            int
	// partial holds the unfinished last line of stdout and stderr.
	partial [2][]byte
	// crash keeps what the guest's runtime wrote to stderr as it died (a
	// Go panic, a fatal error, running out of memory), from the first
	// such line on and whatever the caps, to tell how it died; crashAt is
	// where it begins in lines.
	crash   []string
	crashAt int
	// crashBytes bounds crash.
	crashBytes int
}

// maxCrashBytes bounds the crash report kept.
const maxCrashBytes = 8 << 10

// crashMarkers start the report of a guest runtime's death on stderr: Go's
// panics and fatal errors (out of memory among them), Rust's allocation
// failure and panics.
var crashMarkers = []string{"panic: ", "fatal error: ", "runtime: out of memory", "memory allocation of ", "thread '"}

func (t *traceBuf) reset(maxLines, maxBytes int) {
	t.maxLines, t.maxBytes = maxLines, maxBytes
	t.lines = nil
	t.bytes, t.dropped = 0, 0
	t.partial[0], t.partial[1] = t.partial[0][:0], t.partial[1][:0]
	t.crash, t.crashAt, t.crashBytes = nil, 0, 0
}

// add keeps a trace line; a line with newlines is several lines.
func (t *traceBuf) add(s string) {
	for {
		line, rest, more := strings.Cut(s, "\n")
		t.addLine(line)
		if !more || rest == "" {
			return
		}
		s = rest
	}
}

func (t *traceBuf) addLine(line string) {
	if len(t.lines) >= t.maxLines || t.bytes >= t.maxBytes {
		t.dropped++
		return
	}
	if len(line) > maxLineBytes {
		line = truncate(line, maxLineBytes) + "…"
	}
	if room := t.maxBytes - t.bytes; len(line) > room {
		line = truncate(line, room) + "…"
	}
	t.bytes += len(line)
	t.lines = append(t.lines, line)
}

// write takes output of stream 0 (stdout) or 1 (stderr).
func (t *traceBuf) write(stream int, p []byte) {
	buf := append(t.partial[stream], p...)
	for {
		i := strings.IndexByte(string(buf), '\n')
		if i < 0 {
			break
		}
		t.addOutput(stream, string(buf[:i]))
		buf = buf[i+1:]
	}
	if len(buf) > maxLineBytes {
		t.addOutput(stream, string(buf))
		buf = buf[:0]
	}
	t.partial[stream] = append(t.partial[stream][:0], buf...)
}

func (t *traceBuf) addOutput(stream int, line string) {
	if stream == 1 {
		if t.crash == nil {
			for _, m := range crashMarkers {
				if strings.HasPrefix(line, m) {
					t.crash, t.crashAt = []string{}, len(t.lines)
					break
				}
			}
		}
		if t.crash != nil && t.crashBytes < maxCrashBytes {
			t.crash = append(t.crash, line)
			t.crashBytes += len(line)
		}
	}
	t.addLine(line)
}

// finish flushes unfinished lines and notes what was dropped.
func (t *traceBuf) finish() {
	for i := range t.partial {
		if len(t.partial[i]) > 0 {
			t.addOutput(i, string(t.partial[i]))
			t.partial[i] = t.partial[i][:0]
		}
	}
	if t.dropped > 0 {
		t.lines = append(t.lines, fmt.Sprintf("[bizevents: %d more trace lines dropped: the limit is %d lines and %d bytes per call]", t.dropped, t.maxLines, t.maxBytes))
	}
}

// excerpt returns the last n lines, each cut to a readable length.
func excerpt(lines []string, n int) []string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := make([]string, 0, len(lines))
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if len(l) > 200 {
			l = truncate(l, 200) + "…"
		}
		out = append(out, l)
	}
	return out
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
