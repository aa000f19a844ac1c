package emitter

import (
	"strconv"
	"sync"
	"testing"
)

// subscribe reads the labels of every event it receives until out is closed.
func subscribe(out <-chan Event) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for ev := range out {
			for k, v := range ev.Labels {
				n += len(k) + len(v)
			}
		}
	}()
	return &wg
}

// collect reads the counts of every batch it receives until out is closed.
func collect(out <-chan *Batch) *sync.WaitGroup {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		n := 0
		for b := range out {
			for _, c := range b.Counts {
				n += c
			}
		}
	}()
	return &wg
}

func steps(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = "step" + strconv.Itoa(i)
	}
	return s
}

func TestRaceEmitSeries(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan Event)
		wg := subscribe(out)
		NewEmitter("ci", out).EmitSeries("build", steps(20))
		close(out)
		wg.Wait()
	}
}

func TestRaceEmitOnce(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan Event)
		wg := subscribe(out)
		e := NewEmitter("api", out)
		for i := 0; i < 10; i++ {
			labels := map[string]string{"trace_id": strconv.Itoa(i), "route": "/users", "code": "200"}
			e.EmitOnce("request", labels)
		}
		close(out)
		wg.Wait()
	}
}

func TestRaceApply(t *testing.T) {
	changes := make([][2]string, 20)
	for i := range changes {
		changes[i] = [2]string{"key" + strconv.Itoa(i), strconv.Itoa(i)}
	}
	for round := 0; round < 3; round++ {
		out := make(chan Event)
		wg := subscribe(out)
		NewEmitter("config", out).Apply(changes)
		close(out)
		wg.Wait()
	}
}

func TestRaceCoalescerRun(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan *Batch)
		wg := collect(out)
		names := make(chan string)
		go func() {
			for i := 0; i < 40; i++ {
				names <- "event" + strconv.Itoa(i%7)
			}
			close(names)
		}()
		(&Coalescer{every: 4, out: out}).Run(names)
		close(out)
		wg.Wait()
	}
}

func TestRaceCoalescerOffer(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan *Batch, 1)
		wg := collect(out)
		c := &Coalescer{out: out}
		for i := 0; i < 10; i++ {
			pending := map[string]int{"login": i, "logout": 2 * i, "refresh": 3}
			c.Offer(pending)
		}
		close(out)
		wg.Wait()
	}
}
