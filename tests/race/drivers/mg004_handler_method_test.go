package sessions

import (
	"net/http"
	"strconv"
	"testing"
)

// A fresh service per round; g picks which requests a goroutine sends.
func hammerSessions(targets func(g, round int) []string) {
	for round := 0; round < 8; round++ {
		s := New()
		mux := s.Mux()
		for i := 0; i < 4; i++ {
			raceServe(mux, http.MethodPost, "/login?user=ann&password=hunter2")
		}
		raceHammer(2, func(g int) {
			for _, target := range targets(g, round) {
				raceServe(mux, http.MethodPost, target)
			}
		})
	}
}

func TestRaceLogin(t *testing.T) {
	hammerSessions(func(g, round int) []string { return []string{"/login?user=ann&password=hunter2"} })
}

func TestRaceFailedLogin(t *testing.T) {
	hammerSessions(func(g, round int) []string { return []string{"/login?user=bob&password=x"} })
}

func TestRaceLogout(t *testing.T) {
	hammerSessions(func(g, round int) []string {
		return []string{"/logout?session=" + strconv.Itoa(g+1)}
	})
}

func TestRaceVisits(t *testing.T) {
	hammerSessions(func(g, round int) []string { return []string{"/status"} })
}
