package batcher

import (
	"strconv"
	"sync"
	"testing"
	"time"
)

// consume reads every batch it receives, the way a consumer would, until out is closed.
func consume[K comparable, V any](out <-chan map[K]V) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for batch := range out {
			for range batch {
				n++
			}
		}
	}()
	return &wg
}

// feed sends n events with distinct keys, one millisecond of event time apart, then closes.
func feed(n int) <-chan Event {
	events := make(chan Event)
	go func() {
		start := time.Now()
		for i := 0; i < n; i++ {
			events <- Event{Key: "k" + strconv.Itoa(i), Bytes: 10, At: start.Add(time.Duration(i) * time.Millisecond)}
		}
		close(events)
	}()
	return events
}

func TestRaceCounterRun(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[string]int)
		wg := consume(out)
		NewCounter(4, out).Run(feed(40))
		close(out)
		wg.Wait()
	}
}

func TestRaceCounterRunTimed(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[string]int)
		wg := consume(out)
		events := make(chan Event)
		tick := make(chan time.Time)
		go func() {
			for i := 0; i < 40; i++ {
				events <- Event{Key: "k" + strconv.Itoa(i)}
				if i%3 == 2 {
					tick <- time.Now()
				}
			}
			close(events)
		}()
		NewCounter(4, out).RunTimed(events, tick)
		close(out)
		wg.Wait()
	}
}

func TestRaceSizerRun(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[string]int)
		wg := consume(out)
		(&Sizer{every: 3, keep: 100, out: out}).Run(feed(40))
		close(out)
		wg.Wait()
	}
}

func TestRaceMembershipWatch(t *testing.T) {
	for round := 0; round < 3; round++ {
		before := make(chan map[string]time.Time)
		wg := consume(before)
		(&Membership{before: before}).Watch(feed(30))
		close(before)
		wg.Wait()
	}
}

func TestRaceHistogramRun(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[int]int)
		wg := consume(out)
		(&Histogram{interval: time.Millisecond, out: out}).Run(feed(30))
		close(out)
		wg.Wait()
	}
}

func TestRaceDeduperRun(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan Event)
		var drained sync.WaitGroup
		drained.Add(1)
		go func() {
			defer drained.Done()
			for range out {
			}
		}()
		var persisted sync.WaitGroup
		persist := func(seen map[string]bool) {
			defer persisted.Done()
			n := 0
			for key := range seen {
				n += len(key)
			}
		}
		// one Add per persist call Run makes (every 2 new keys of 30, from the 2nd on)
		persisted.Add(14)
		(&Deduper{every: 2, out: out}).Run(feed(30), persist)
		close(out)
		drained.Wait()
		persisted.Wait()
	}
}
