package emitter

import (
	"strconv"
	"sync"
	"testing"
)

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

func TestCleanEmitters(t *testing.T) {
	steps := make([]string, 20)
	for i := range steps {
		steps[i] = "step" + strconv.Itoa(i)
	}
	for round := 0; round < 3; round++ {
		out := make(chan Event)
		wg := subscribe(out)
		e := NewEmitter("ci", out)
		e.EmitSeries("build", steps)
		base := map[string]string{"source": "ci"}
		for i := 0; i < 10; i++ {
			e.EmitOnce("request", map[string]string{"trace_id": strconv.Itoa(i), "route": "/users"})
			e.EmitDerived("step"+strconv.Itoa(i), base)
		}
		close(out)
		wg.Wait()
	}
}

func TestCleanCoalescer(t *testing.T) {
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

func TestCleanPublish(t *testing.T) {
	for round := 0; round < 3; round++ {
		out := make(chan *Batch)
		c := &Coalescer{out: out}
		for i := 0; i < 10; i++ {
			c.Publish(map[string]int{"login": i, "logout": 2 * i}, i)
		}
		// Publish's goroutines send the copies on; read them all.
		n := 0
		for i := 0; i < 10; i++ {
			for _, v := range (<-out).Counts {
				n += v
			}
		}
	}
}
