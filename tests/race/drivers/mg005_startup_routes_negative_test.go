package routes

import (
	"net/http"
	"testing"
)

// Tokens: this package's route setup calls the store's getter before registering the routes
// whose guard calls it on every request (a fresh process: the store starts unset).
func TestCleanTokens(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux)
	raceHammer(4, func(g int) {
		raceServe(mux, http.MethodGet, "/issue?token=t")
		raceServe(mux, http.MethodGet, "/status")
	})
}
