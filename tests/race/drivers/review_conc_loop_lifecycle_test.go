package lifecycle

import (
	"fmt"
	"testing"
	"time"
)

// Rush starts its next waiter without waiting for the last: the waiters write one map at once.
func TestRaceRushWaiters(t *testing.T) {
	a := &Arbitrator{}
	b := breach{outputs: []string{"out0", "out1", "out2", "out3"}}
	for round := 0; round < 8; round++ {
		a.Rush(b) // a fresh map per call
	}
	time.Sleep(100 * time.Millisecond)
}

// HastyNotifier's Stop ranges over the clients before it stops the dispatcher that adds them.
func TestRaceHastyStop(t *testing.T) {
	for round := 0; round < 6; round++ {
		n := &HastyNotifier{quit: make(chan struct{}), register: make(chan *epochClient),
			clients: make(map[uint64]*epochClient)}
		n.Start()
		n.register <- &epochClient{id: 1, events: make(chan int)}
		n.Stop()
	}
}

// Start runs one poll goroutine per name, all on the same Poller's map.
func TestRacePollerStart(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	for round := 0; round < 8; round++ {
		p := &Poller{seen: make(map[string]int)}
		p.Start(names)
	}
	time.Sleep(100 * time.Millisecond)
}

// Each retribution's waiters run one after another, and Watch's callers join them.
func TestCleanArbitratorWatch(t *testing.T) {
	a := &Arbitrator{}
	breaches := make([]breach, 4)
	for i := range breaches {
		breaches[i] = breach{outputs: []string{fmt.Sprintf("out%d", i), "shared"}}
	}
	for round := 0; round < 4; round++ {
		a.Watch(breaches)
	}
	a.wg.Wait()
}

// Notifier's dispatcher alone touches the clients until Stop has joined it.
func TestCleanNotifierLifecycle(t *testing.T) {
	for round := 0; round < 4; round++ {
		n := NewNotifier()
		if err := n.Start(); err != nil {
			t.Fatal(err)
		}
		raceHammer(4, func(g int) {
			for i := 0; i < 50; i++ {
				id := uint64(g*100 + i)
				n.Register(&epochClient{id: id, events: make(chan int)})
				if i%2 == 1 {
					n.cancel <- id
				}
			}
		})
		n.Stop()
	}
}

// Several clients run their own loops, each merging into its own services.
func TestCleanServiceClients(t *testing.T) {
	w := &Clients{clients: map[string]*ServiceClient{}}
	for i := 0; i < 4; i++ {
		w.clients[fmt.Sprintf("client%d", i)] = &ServiceClient{ops: make(chan *operations),
			shutdown: make(chan struct{}), services: make(map[string]registration)}
	}
	w.Run()
	raceHammer(4, func(g int) {
		c := w.clients[fmt.Sprintf("client%d", g)]
		for i := 0; i < 50; i++ {
			id := fmt.Sprintf("svc%d", i)
			c.ops <- &operations{add: []registration{{id: id}, {id: "shared"}}}
			c.ops <- &operations{remove: []string{id}}
		}
		close(c.shutdown)
	})
}

// Swapper's Start writes the file once before the updater takes over the state.
func TestCleanSwapper(t *testing.T) {
	s := &Swapper{quit: make(chan struct{}), updates: make(chan backup),
		state: map[string]backup{"p0": {point: "p0"}}}
	raceHammer(4, func(g int) {
		s.Start()
		for i := 0; i < 50; i++ {
			s.updates <- backup{point: fmt.Sprintf("p%d-%d", g, i)}
		}
	})
	close(s.quit)
	s.wg.Wait()
}

// The reorg scheduler hands each reorg a set it no longer touches and starts a new one.
func TestCleanReorgScheduler(t *testing.T) {
	p := &Pool{requests: make(chan string), quit: make(chan struct{})}
	p.Start()
	raceHammer(4, func(g int) {
		for i := 0; i < 100; i++ {
			p.requests <- fmt.Sprintf("acct%d-%d", g, i%10)
		}
	})
	close(p.quit)
}
