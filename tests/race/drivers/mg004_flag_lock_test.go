package stats

import (
	"net/http"
	"testing"
)

// Short names skip the conditional lock, so two requests write slowCalls at once.
func TestRaceSlow(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux)
	for round := 0; round < 8; round++ {
		slowCalls = map[string]int{}
		raceHammer(2, func(g int) {
			raceServe(mux, http.MethodGet, "/slow?name=a")
		})
	}
}

// The flag-switched locks cover every write: counting and (un)subscribing run clean.
func TestCleanFlagLocks(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux)
	raceHammer(2, func(g int) {
		raceServe(mux, http.MethodGet, "/call?name=a")
		raceServe(mux, http.MethodGet, "/subscribe?id=x")
		raceServe(mux, http.MethodGet, "/unsubscribe?id=x")
	})
}
