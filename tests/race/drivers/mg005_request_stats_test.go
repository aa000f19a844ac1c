package reqstats

import (
	"errors"
	"net/http"
	"testing"
)

// Every round starts from nil maps and a fresh server, so each lazy set-up races again: the
// race detector names one race per memory location and then stops watching it.
func hammerStats(targets ...string) {
	for round := 0; round < 8; round++ {
		byPath, byAgent, byMethod, byHost, byProto, lastQuery = nil, nil, nil, nil, nil, nil
		mux := http.NewServeMux()
		Routes(mux, &Server{})
		raceHammer(2, func(g int) {
			for _, target := range targets {
				raceServe(mux, http.MethodPost, target)
			}
		})
	}
}

func TestRacePath(t *testing.T) { hammerStats("/path") }

func TestRaceAgent(t *testing.T) { hammerStats("/agent") }

func TestRaceMethod(t *testing.T) { hammerStats("/method") }

func TestRaceHost(t *testing.T) { hammerStats("/host") }

func TestRaceProto(t *testing.T) { hammerStats("/proto") }

func TestRaceSearch(t *testing.T) { hammerStats("/search?q=maps") }

func TestRaceLogin(t *testing.T) { hammerStats("/login?user=a") }

func TestRaceLogout(t *testing.T) { hammerStats("/logout?user=a") }

func TestRaceToken(t *testing.T) { hammerStats("/token?user=a&token=t") }

func TestRacePref(t *testing.T) { hammerStats("/pref?key=k&value=v") }

func TestRaceVisit(t *testing.T) { hammerStats("/visit") }

func TestRaceCheck(t *testing.T) {
	for round := 0; round < 8; round++ {
		results, failures = nil, nil
		Check([]int{1, 2, 3, 4}, func(id int) error {
			if id%2 == 0 {
				return errors.New("even")
			}
			return nil
		})
	}
}
