package outbound

import (
	"net/http"
	"testing"
)

// Every round restores fresh package defaults (the detector names a location once), then two
// goroutines build requests at once: both write the one default map.
func concurrently(build func(g int)) {
	for round := 0; round < 8; round++ {
		DefaultHeaders = map[string]string{"User-Agent": "ingest/1.0", "Accept": "application/json"}
		baseHeader = http.Header{"User-Agent": {"ingest/1.0"}}
		defaultLabels = map[string]string{"client": "ingest"}
		defaultAttempts = map[string]int{}
		raceHammer(2, build)
	}
}

func TestRaceNewRequest(t *testing.T) {
	concurrently(func(g int) { NewRequest("/a", "id") })
}

func TestRaceNewTraced(t *testing.T) {
	concurrently(func(g int) { NewTraced("/a", "00-trace") })
}

func TestRaceNewPlain(t *testing.T) {
	concurrently(func(g int) { NewPlain("/a") })
}

func TestRaceNewHTTP(t *testing.T) {
	concurrently(func(g int) { NewHTTP("/a", "token") })
}

func TestRaceFill(t *testing.T) {
	concurrently(func(g int) { Fill(&Request{Path: "/a"}, "id") })
}

func TestRaceLabelled(t *testing.T) {
	concurrently(func(g int) { Labelled("/a", "/users") })
}

func TestRaceRetry(t *testing.T) {
	concurrently(func(g int) { Retry("/a") })
}

// The copies: each request writes a map of its own while the defaults are only read.
func TestCleanCopies(t *testing.T) {
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			NewCloned("/a", "id")
			NewCopied("/a", "id")
			NewHTTPCloned("/a", "token")
			NewReplaced("/a", "id")
			NewChecked("/a", "id", map[string]string{})
			NewChecked("/a", "id", nil)
			HeaderFor("/a", "Accept")
		}
	})
}
