package admin

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

// Each round starts from fresh package maps: the race detector reports one race per memory
// location and then stops watching it, so fresh maps give every write its own chance to be named.
func hammerAdmin(targets ...string) {
	mux := http.NewServeMux()
	Routes(mux)
	for round := 0; round < 8; round++ {
		hitsByPath, lastSeen, banned = map[string]int{}, map[string]time.Time{}, map[string]bool{}
		lastQuery, bytesOut = url.Values{}, map[string]int64{}
		raceHammer(2, func(g int) {
			for _, target := range targets {
				raceServe(mux, http.MethodPost, target)
			}
		})
	}
}

func TestRaceHits(t *testing.T) { hammerAdmin("/admin/hits") }

func TestRaceBan(t *testing.T) { hammerAdmin("/admin/ban?ip=10.0.0.1") }

func TestRaceUnban(t *testing.T) { hammerAdmin("/admin/unban?ip=10.0.0.1", "/admin/report") }

func TestRaceSearch(t *testing.T) { hammerAdmin("/admin/search?q=maps") }

func TestRaceReset(t *testing.T) { hammerAdmin("/admin/reset", "/admin/report") }
