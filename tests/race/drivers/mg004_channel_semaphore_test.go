package mg004_channel_semaphore

import (
	"net/http"
	"testing"
)

func hammer(paths ...string) {
	mux := http.NewServeMux()
	Routes(mux)
	for round := 0; round < 8; round++ {
		fetched, opened = map[string]int{}, map[string]bool{}
		raceHammer(4, func(g int) {
			for _, p := range paths {
				raceServe(mux, http.MethodGet, p)
			}
		})
	}
}

// Four slots let four requests write at once.
func TestRaceFetch(t *testing.T) { hammer("/fetch") }

// Once widened, the gate lets several requests in.
func TestRaceOpen(t *testing.T) {
	Widen(4)
	hammer("/open")
}
