package mg004_handler_shaped

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// count, handed to the mux by Warm, serves requests at once.
func TestRaceCount(t *testing.T) {
	mux := http.NewServeMux()
	Warm(mux, httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/warm", nil))
	for round := 0; round < 8; round++ {
		hits = map[string]int{}
		raceHammer(2, func(g int) {
			for _, p := range []string{"/a", "/b", "/c"} {
				raceServe(mux, http.MethodGet, p)
			}
		})
	}
}
