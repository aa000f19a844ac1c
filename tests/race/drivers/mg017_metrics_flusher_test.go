package metrics

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// discard is a sink that drops everything (no locks: a lock would order the flushers).
type discard struct{}

func (discard) Write(string, float64) {}

func samples(n, names int) []Sample {
	s := make([]Sample, n)
	for i := range s {
		s[i] = Sample{Name: "metric" + strconv.Itoa(i%names), Value: float64(i)}
	}
	return s
}

func TestRaceRun(t *testing.T) {
	for round := 0; round < 3; round++ {
		ch := make(chan Sample)
		go func() {
			for _, s := range samples(40, 5) {
				ch <- s
			}
			close(ch)
		}()
		NewAggregator(discard{}, 3).Run(ch)
	}
}

func TestRaceGauges(t *testing.T) {
	for round := 0; round < 3; round++ {
		NewAggregator(discard{}, 1).Gauges(samples(40, 4))
	}
}

func TestRaceTotals(t *testing.T) {
	report := func(name string, total float64) {}
	for round := 0; round < 3; round++ {
		NewAggregator(discard{}, 4).Totals(samples(40, 6), report)
	}
}

func TestRaceExpire(t *testing.T) {
	now := time.Now()
	for round := 0; round < 3; round++ {
		lastSeen := make(map[string]time.Time)
		for i := 0; i < 20; i++ {
			lastSeen["series"+strconv.Itoa(i)] = now.Add(-time.Duration(i) * time.Minute)
		}
		NewAggregator(discard{}, 1).Expire(lastSeen, now, 5*time.Minute, func(string) {})
		// Expire does not wait for its reporter; give it time to read (no synchronisation).
		time.Sleep(5 * time.Millisecond)
	}
}

func TestRaceRotate(t *testing.T) {
	for round := 0; round < 3; round++ {
		window := make(map[string]float64)
		for _, s := range samples(20, 20) {
			window[s.Name] = s.Value
		}
		NewAggregator(discard{}, 1).Rotate(window)
	}
}

func TestRaceLatencies(t *testing.T) {
	values := make([]time.Duration, 40)
	for i := range values {
		values[i] = time.Duration(i*i) * time.Millisecond
	}
	for round := 0; round < 3; round++ {
		out := make(chan Snapshot)
		var wg sync.WaitGroup
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := 0
			for s := range out {
				for _, c := range s.Buckets {
					n += c
				}
			}
		}()
		NewAggregator(discard{}, 5).Latencies(values, out)
		close(out)
		wg.Wait()
	}
}
