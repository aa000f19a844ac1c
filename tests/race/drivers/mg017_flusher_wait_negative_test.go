package metrics

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// discard is a sink that drops everything.
type discard struct{}

func (discard) Write(string, float64) {}

func samples(n, names int) []Sample {
	s := make([]Sample, n)
	for i := range s {
		s[i] = Sample{Name: "metric" + strconv.Itoa(i%names), Value: float64(i)}
	}
	return s
}

func TestCleanRun(t *testing.T) {
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

func TestCleanExpire(t *testing.T) {
	now := time.Now()
	for round := 0; round < 3; round++ {
		lastSeen := make(map[string]time.Time)
		for i := 0; i < 20; i++ {
			lastSeen["series"+strconv.Itoa(i)] = now.Add(-time.Duration(i) * time.Minute)
		}
		NewAggregator(discard{}, 1).Expire(lastSeen, now, 5*time.Minute, func(string) {})
	}
}

func TestCleanRotate(t *testing.T) {
	for round := 0; round < 3; round++ {
		previous := make(map[string]float64)
		for _, s := range samples(20, 20) {
			previous[s.Name] = s.Value
		}
		NewAggregator(discard{}, 1).Rotate(make(map[string]float64), previous, samples(40, 10))
		// Rotate does not wait for its flusher; give it time to read (no synchronisation).
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCleanTotals(t *testing.T) {
	report := func(name string, total float64) {}
	for round := 0; round < 3; round++ {
		NewAggregator(discard{}, 4).Totals(samples(40, 6), report)
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCleanGauges(t *testing.T) {
	for round := 0; round < 3; round++ {
		NewAggregator(discard{}, 1).Gauges(samples(40, 4))
		time.Sleep(5 * time.Millisecond)
	}
}

func TestCleanRegistry(t *testing.T) {
	for round := 0; round < 3; round++ {
		r := NewRegistry(4)
		var watched sync.WaitGroup
		watched.Add(1)
		go func() {
			defer watched.Done()
			r.Watch(func(string, float64) {})
		}()
		gauges := make(map[string]float64)
		raceHammer(4, func(g int) {
			for i := 0; i < 50; i++ {
				r.Set(gauges, "gauge"+strconv.Itoa(g), float64(i))
			}
		})
		close(r.updates)
		watched.Wait()
	}
}
