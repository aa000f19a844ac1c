package flags

import (
	"net/http"
	"testing"
	"time"
)

func hammer(mux http.Handler, targets ...string) {
	for round := 0; round < 8; round++ {
		enabled = map[string]bool{"beta-ui": false}
		inflight, audit = map[string]time.Time{}, map[string]string{}
		raceHammer(2, func(g int) {
			for _, target := range targets {
				raceServe(mux, http.MethodPost, target)
			}
		})
	}
}

func TestRaceEnableDisable(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux)
	hammer(mux, "/flags/enable?name=beta-ui", "/flags/disable?name=beta-ui")
}

func TestRaceWho(t *testing.T) {
	mux := http.NewServeMux()
	Register(mux)
	hammer(mux, "/flags/who?name=beta-ui&user=ops")
}

func TestRaceCounting(t *testing.T) {
	for round := 0; round < 8; round++ {
		h := countingHandler(map[string]int{}, http.NotFoundHandler())
		raceHammer(2, func(g int) { raceServe(h, http.MethodGet, "/") })
	}
}

func TestRaceForgetAndGet(t *testing.T) {
	RegisterDefault()
	hammer(http.DefaultServeMux, "/flags/forget?name=beta-ui", "/flags/get?name=fast-path")
}
