package storage

import "time"

// Micros is how times are stored: microseconds since the Unix epoch, UTC.
func Micros(t time.Time) int64 { return t.UnixMicro() }

// FromMicros turns a stored time back into a time.Time in UTC.
func FromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nowMicros() int64 { return Micros(time.Now()) }
