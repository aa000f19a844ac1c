package batcher

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"
)

// consume reads every batch it receives until out is closed; with ack, it acknowledges each
// batch once it is done reading it.
func consume[K comparable, V any](out <-chan map[K]V, ack chan<- struct{}) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for batch := range out {
			for range batch {
				n++
			}
			if ack != nil {
				ack <- struct{}{}
			}
		}
	}()
	return &wg
}

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

func TestCleanCounterRun(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[string]int)
		wg := consume(out, nil)
		(&Counter{size: 4, out: out}).Run(feed(40))
		close(out)
		wg.Wait()
	}
}

func TestCleanCounterRunAcked(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[string]int)
		ack := make(chan struct{})
		wg := consume(out, ack)
		(&Counter{size: 4, out: out, ack: ack}).RunAcked(context.Background(), feed(40))
		close(out)
		wg.Wait()
	}
}

func TestCleanCounterOffer(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[string]int, 1)
		wg := consume(out, nil)
		(&Counter{size: 4, out: out}).Offer(feed(40))
		close(out)
		wg.Wait()
	}
}

func TestCleanSizerRun(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan map[string]int)
		wg := consume(out, nil)
		(&Sizer{every: 3, keep: 100, out: out}).Run(feed(40))
		close(out)
		wg.Wait()
	}
}

func TestCleanMembershipWatch(t *testing.T) {
	for round := 0; round < 3; round++ {
		before := make(chan map[string]time.Time)
		ack := make(chan struct{})
		wg := consume(before, ack)
		(&Membership{before: before, ack: ack}).Watch(feed(30))
		close(before)
		wg.Wait()
	}
}
