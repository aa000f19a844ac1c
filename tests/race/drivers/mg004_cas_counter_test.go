package mg004_cas_counter

import (
	"net/http"
	"testing"
)

func hammer(paths ...string) {
	mux := http.NewServeMux()
	Routes(mux)
	for round := 0; round < 8; round++ {
		byID, last, jobs = map[string]int64{}, map[string]string{}, map[string]int{}
		pollers = map[string]bool{}
		raceHammer(4, func(g int) {
			for i := 0; i < 20; i++ {
				raceServe(mux, http.MethodGet, paths[(g+i)%len(paths)])
			}
		})
	}
}

// Every request wins its own CAS of the counter: the writes overlap.
func TestRaceNext(t *testing.T) { hammer("/next") }

// The second write runs after the flag is given back, beside the next holder's writes.
func TestRaceRecord(t *testing.T) { hammer("/record") }

// Drop does not take the flag Run holds.
func TestRaceDrop(t *testing.T) { hammer("/run", "/drop") }

// A stop runs beside the start that turned the switch on.
func TestRaceToggle(t *testing.T) { hammer("/start", "/stop") }

// Run alone is clean: the CAS try-lock orders its holders (sync/atomic synchronises under
// the race detector too).
func TestCleanRunAlone(t *testing.T) { hammer("/run") }
