// race-package: cmd/server
package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

// Requests served by a fresh server per round, released together.
func hammerServer(request func(g, round int) *http.Request) {
	for round := 0; round < 8; round++ {
		s := newServer()
		raceHammer(4, func(g int) {
			s.ServeHTTP(httptest.NewRecorder(), request(g, round))
		})
	}
}

func TestRaceHits(t *testing.T) {
	hammerServer(func(g, round int) *http.Request {
		return raceRequest(http.MethodGet, "/hits", nil)
	})
}

func TestRaceAgents(t *testing.T) {
	hammerServer(func(g, round int) *http.Request {
		req := raceRequest(http.MethodGet, "/", nil)
		req.Header.Set("User-Agent", "agent-"+strconv.Itoa(round*4+g))
		return req
	})
}

func TestRaceLabels(t *testing.T) {
	hammerServer(func(g, round int) *http.Request {
		return raceRequest(http.MethodGet, "/p"+strconv.Itoa(g)+"?label=x", nil)
	})
}
