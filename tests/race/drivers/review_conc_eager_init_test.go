package relay

import (
	"fmt"
	"net/http"
	"testing"
)

func conns(n int) <-chan string {
	ch := make(chan string, n)
	for i := 0; i < n; i++ {
		ch <- fmt.Sprintf("10.0.0.%d", i)
	}
	close(ch)
	return ch
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("k%d", i)
	}
	return out
}

func TestRaceStartLimitedWithoutLimit(t *testing.T) {
	for round := 0; round < 6; round++ {
		(&Server{}).StartLimited(conns(16), false)
	}
}

func TestRaceCacheAfterReset(t *testing.T) {
	for round := 0; round < 6; round++ {
		c := NewCache()
		c.Reset()
		c.Warm(keys(16))
	}
}

func TestRaceForkedWorker(t *testing.T) {
	for round := 0; round < 6; round++ {
		NewWorker("w").Fork().Process(keys(16))
	}
}

func TestRaceColdProbe(t *testing.T) {
	for round := 0; round < 6; round++ {
		(&Server{}).Probe(keys(16), false)
	}
}

// Every path the package offers sets the field before the goroutines start: no race.
func TestCleanEagerInit(t *testing.T) {
	for round := 0; round < 3; round++ {
		(&Server{}).Start(conns(16))
		(&Server{}).Serve(conns(16))
		(&Server{}).StartLimited(conns(16), true)
		(&Server{}).Watch(keys(16))
		(&Server{}).Probe(keys(16), true)
		New("e").RunAll(keys(16))
		NewCache().Warm(keys(16))
		NewWorker("w").Process(keys(16))
		r := NewRegistry(newLogger("test"))
		raceHammer(4, func(g int) {
			for i := 0; i < 5; i++ {
				raceServe(r, http.MethodGet, fmt.Sprintf("/p%d", i))
			}
		})
	}
}
