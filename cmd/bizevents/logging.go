package main

import (
	"io"
	"log/slog"
)

// Log attribute keys, one spelling each.
const (
	logKeyComponent = "component"
	logKeyErr       = "err"
	logKeyAddr      = "addr"
	logKeyDB        = "db"
	logKeyMethod    = "method"
	logKeyPath      = "path"
	logKeyStatus    = "status"
	logKeyDuration  = "duration"
	logKeyTimeout   = "timeout"
)

// newLogger returns a text logger to w. Commands that print data log at
// warning level so that their stderr stays quiet; serve logs at info.
func newLogger(w io.Writer, level slog.Leveler) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// levelValue is a flag naming a slog level: debug, info, warn, error.
type levelValue struct{ l *slog.LevelVar }

func (v levelValue) String() string {
	if v.l == nil {
		return ""
	}
	return v.l.Level().String()
}

func (v levelValue) Set(s string) error { return v.l.UnmarshalText([]byte(s)) }
