package mg004_cas_trylock_negative

import (
	"net/http"
	"testing"
)

// Overlapping pings and requests: the CAS try-locks admit one goroutine at a time per flag,
// and the atomics order each holder's writes before the next holder's.
func TestCleanCompareAndSwapTryLocks(t *testing.T) {
	mux := http.NewServeMux()
	Routes(mux)
	ids := []string{"a", "b", "c"}
	raceHammer(4, func(g int) {
		for i := 0; i < 50; i++ {
			ping(ids)
			for _, p := range []string{"/refresh", "/rebuild", "/sweep"} {
				raceServe(mux, http.MethodGet, p)
			}
		}
	})
}
