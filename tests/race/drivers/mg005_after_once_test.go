package catalog

import (
	"net/http"
	"sync"
	"testing"
)

// An empty language leaves `partial` unset (its Once function returns first) and `loaded` nil
// (load returns nil): every round starts with fresh Onces, and concurrent requests race on the
// lazy set-up behind them.
func TestRaceBehindTheOnce(t *testing.T) {
	for round := 0; round < 6; round++ {
		partial, partialOnce = nil, sync.Once{}
		loaded, loadedOnce = nil, sync.Once{}
		global, globalOnce = nil, sync.Once{}
		raceHammer(4, func(g int) { raceServe(http.HandlerFunc(Serve), http.MethodGet, "/?lang=") })
	}
}

// The Once function that sets `global` on every path leaves the check after Do dead: Global
// alone, called concurrently, runs clean.
func TestCleanGlobal(t *testing.T) {
	for round := 0; round < 6; round++ {
		global, globalOnce = nil, sync.Once{}
		raceHammer(4, func(g int) {
			if Global([]string{"", "en", "en-GB", "fr"}[g]).messages == nil {
				panic("no catalog")
			}
		})
	}
}
