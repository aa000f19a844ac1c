package routes

import (
	"net/http"
	"testing"
)

// /count/raw skips the wrapper, and the two /mark routes each hold a mutex of their own:
// concurrent requests write `hits` and `seen` at once.
func TestRaceUncovered(t *testing.T) {
	mux := NewMux()
	for round := 0; round < 6; round++ {
		hits, seen = map[string]int{}, map[string]bool{}
		raceHammer(4, func(g int) {
			target := []string{"/count/raw", "/count", "/mark", "/mark/again"}[g]
			raceServe(mux, http.MethodGet, target)
		})
	}
}

// Every route of the table runs under writeMutex: concurrent requests run one at a time.
func TestCleanTable(t *testing.T) {
	mux := NewMux()
	for round := 0; round < 6; round++ {
		raceHammer(4, func(g int) {
			target := []string{"/vnet?name=a", "/prefix?vnet=a&prefix=p", "/ping",
				"/prefix?vnet=b&prefix=q"}[g]
			raceServe(mux, http.MethodGet, target)
		})
	}
}
