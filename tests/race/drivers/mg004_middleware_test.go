package middleware

import (
	"net/http"
	"testing"
)

// Each middleware behind a net/http handler, as negroni and Caddy put them in front of the
// next handler; fresh package maps per round so that every write has its chance to be named.
func hammerMiddleware(h http.Handler, target string) {
	for round := 0; round < 8; round++ {
		hitsByAgent, lastPath, corsOrigins = map[string]int{}, map[string]string{}, map[string]bool{}
		raceHammer(2, func(g int) {
			for i := 0; i < 4; i++ {
				raceServe(h, http.MethodGet, target)
			}
		})
	}
}

type next struct{}

func (next) ServeHTTP(http.ResponseWriter, *http.Request) error { return nil }

func TestRaceStats(t *testing.T) {
	hammerMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		Stats{}.ServeHTTP(w, r, func(http.ResponseWriter, *http.Request) {})
	}), "/stats")
}

func TestRaceCORS(t *testing.T) {
	hammerMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Header.Set("Origin", "https://example.com")
		_ = CORS{}.ServeHTTP(w, r, next{})
	}), "/cors")
}
