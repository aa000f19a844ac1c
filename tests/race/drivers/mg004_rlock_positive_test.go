package discovery

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type request struct{ method, target, body string }

// A fresh registry per round, with api registered so that DELETE has something to remove.
func hammerRegistry(reqs ...request) {
	for round := 0; round < 8; round++ {
		reg := NewRegistry()
		reg.services["api"] = []Endpoint{{Addr: "10.0.0.1:80"}}
		mux := reg.Mux()
		raceHammer(2, func(g int) {
			for _, r := range reqs {
				req := raceRequest(r.method, r.target, strings.NewReader(r.body))
				mux.ServeHTTP(httptest.NewRecorder(), req)
			}
		})
	}
}

func TestRacePutUnderRLock(t *testing.T) {
	hammerRegistry(request{http.MethodPut, "/services?service=api", `{"addr":"10.0.0.2:80"}`})
}

func TestRaceBadPut(t *testing.T) {
	hammerRegistry(request{http.MethodPut, "/services?service=api", `not json`})
}

// One goroutine deletes (after its Unlock), the other keeps listing under the read lock.
func TestRaceDeleteAfterUnlock(t *testing.T) {
	for round := 0; round < 8; round++ {
		reg := NewRegistry()
		reg.services["api"] = []Endpoint{{Addr: "10.0.0.1:80"}}
		mux := reg.Mux()
		raceHammer(2, func(g int) {
			if g == 0 {
				mux.ServeHTTP(httptest.NewRecorder(), raceRequest(http.MethodDelete, "/services?service=api", nil))
				return
			}
			for i := 0; i < 20; i++ {
				mux.ServeHTTP(httptest.NewRecorder(), raceRequest(http.MethodGet, "/services?service=api", nil))
			}
		})
	}
}

func TestRaceBump(t *testing.T) {
	hammerRegistry(request{http.MethodGet, "/services/bump?service=api", ""})
}

func TestRaceWatch(t *testing.T) {
	hammerRegistry(request{http.MethodGet, "/services/watch?service=api", ""})
}

func TestRaceForget(t *testing.T) {
	hammerRegistry(request{http.MethodGet, "/services/forget?service=api", ""})
}
