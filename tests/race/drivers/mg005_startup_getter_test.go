package store

import (
	"net/http"
	"testing"
)

// Cache: only handlers call its getter, so the first requests race on the variable.
func TestRaceCache(t *testing.T) {
	for round := 0; round < 6; round++ {
		sessions, tokens, cache = nil, nil, nil
		mux := http.NewServeMux()
		Routes(mux)
		raceHammer(2, func(g int) { raceServe(mux, http.MethodGet, "/cached") })
	}
}

// Sessions: the route setup has called its getter before any request is served.
func TestCleanSessions(t *testing.T) {
	for round := 0; round < 6; round++ {
		sessions, tokens, cache = nil, nil, nil
		mux := http.NewServeMux()
		Routes(mux)
		raceHammer(2, func(g int) {
			raceServe(mux, http.MethodGet, "/me?user=u")
			raceServe(mux, http.MethodGet, "/login?user=u")
		})
	}
}
