// race-package: cmd/server
package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"example.com/corpus/mg004_result_typed/internal/store"
)

// Requests to one handler, on fresh package-level tallies per round, released together.
func hammerHandler(handler http.HandlerFunc, target func(g, round int) string) {
	for round := 0; round < 8; round++ {
		hits = store.New()
		tags, _ = store.Open("tags")
		registry = store.NewRegistry()
		methods = registry.Methods()
		raceHammer(4, func(g int) {
			handler(httptest.NewRecorder(), raceRequest(http.MethodGet, target(g, round), nil))
		})
	}
}

func TestRaceHits(t *testing.T) {
	hammerHandler(serveHits, func(g, round int) string { return "/p" + strconv.Itoa(g) })
}

func TestRaceTags(t *testing.T) {
	hammerHandler(serveTags, func(g, round int) string {
		return "/tag?tag=t" + strconv.Itoa(round*4+g)
	})
}
