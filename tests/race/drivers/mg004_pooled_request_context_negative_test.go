package webctx

import (
	"net/http"
	"testing"
)

// The status page registered with HandleFunc counts its hits without the router's lock.
func TestRaceStatus(t *testing.T) {
	for round := 0; round < 8; round++ {
		mux := NewRouter().Mux()
		raceHammer(2, func(g int) {
			raceServe(mux, http.MethodGet, "/status")
		})
	}
}

// Routed requests each reset a Context of their own from the pool and count under the lock.
func TestCleanPooledContexts(t *testing.T) {
	rt := NewRouter()
	rt.routes["/echo"] = func(c *Context) {
		c.data["seen"] = c.params["q"]
		_, _ = c.Writer.Write([]byte(c.params["q"]))
	}
	mux := rt.Mux()
	raceHammer(4, func(g int) {
		for i := 0; i < 10; i++ {
			if body := raceServe(mux, http.MethodGet, "/echo?q=x").Body.String(); body != "x" {
				t.Errorf("/echo?q=x answered %q", body)
			}
		}
	})
	if rt.hits["/echo"] != 4*10 {
		t.Errorf("%d hits counted, want %d", rt.hits["/echo"], 4*10)
	}
}
