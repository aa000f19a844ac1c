package vars

import (
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// Concurrent requests through the whole chain: each request's bag is its own, filled by the
// handlers one after another on the request's goroutine.
func TestCleanConcurrentRequests(t *testing.T) {
	var logged atomic.Int64
	final := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		SetVar(r.Context(), "status", http.StatusOK)
		w.WriteHeader(http.StatusOK)
	})
	chain := Middleware(AccessLog(
		Route("/users/{id}", time.Second, Upstream([]string{"a:80", "b:80"}, final)),
		func(route, upstream string, took time.Duration) { logged.Add(1) }))
	raceHammer(4, func(g int) {
		for i := 0; i < 10; i++ {
			raceServe(chain, http.MethodGet, "/users/1")
		}
	})
	if logged.Load() != 40 {
		t.Fatalf("logged %d requests, want 40", logged.Load())
	}
}
