package settings

import (
	"net/http"
	"testing"
)

func readWhile(write func()) {
	for round := 0; round < 8; round++ {
		current.Store(map[string]string{"mode": "normal", "a": "1"})
		defaults.Store(http.Header{"Server": {"edge"}})
		raceHammer(2, func(g int) {
			for i := 0; i < 3; i++ {
				if g == 0 {
					Get("mode")
					Header("Server")
				} else {
					write()
				}
			}
		})
	}
}

func TestRaceSet(t *testing.T) { readWhile(func() { Set("region", "eu") }) }

func TestRaceSetMany(t *testing.T) { readWhile(func() { SetMany(map[string]string{"b": "2"}) }) }

func TestRaceUnset(t *testing.T) { readWhile(func() { Unset("a") }) }

func TestRaceMaintenanceOn(t *testing.T) { readWhile(func() { Maintenance(true) }) }

func TestRaceMaintenanceOff(t *testing.T) { readWhile(func() { Maintenance(false) }) }

func TestRaceSetHeader(t *testing.T) { readWhile(func() { SetHeader("x-edge", "1") }) }
