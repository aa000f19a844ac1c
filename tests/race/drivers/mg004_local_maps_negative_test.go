package report

import (
	"net/http"
	"testing"
)

func TestCleanReportHandlers(t *testing.T) {
	mux := Mux()
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			raceServe(mux, http.MethodPost, "/count?text=the+map+is+a+map")
			raceServe(mux, http.MethodGet, "/headers")
			raceServe(mux, http.MethodGet, "/query?a=1&b=2&a=3")
		}
	})
}

func TestCleanFanOut(t *testing.T) {
	words := []string{"concurrent", "map", "writes", "are", "fatal"}
	raceHammer(2, func(g int) {
		Letters(words)
		Tokens([]string{"a TODO list", "ready set go", "map of maps"})
	})
}
