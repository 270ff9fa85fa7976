// Package benchload runs a benchmark's operation from many goroutines at
// once, as concurrent clients do, and reports its throughput and latency.
package benchload

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Run runs b.N calls of op from clients goroutines and returns each call's
// latency and the elapsed time. The first error fails the benchmark.
func Run(b *testing.B, clients int, op func() error) ([]time.Duration, time.Duration) {
	b.Helper()
	var next atomic.Int64
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	var firstErr atomic.Value
	b.ResetTimer()
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t0 := time.Now()
				if err := op(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[i] = time.Since(t0)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	if err, _ := firstErr.Load().(error); err != nil {
		b.Fatal(err)
	}
	return lat, elapsed
}

// Report runs Run and reports events/s (the metric make bench's ratios
// use) and the p50 and p99 latencies in milliseconds.
func Report(b *testing.B, clients int, op func() error) {
	b.Helper()
	lat, elapsed := Run(b, clients, op)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "events/s")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}
