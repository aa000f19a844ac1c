package catalog

import (
	"net/http"
	"testing"
)

func TestRacePrice(t *testing.T) {
	for round := 0; round < 6; round++ {
		prices = nil
		raceHammer(2, func(g int) { raceServe(http.HandlerFunc(handlePrice), http.MethodGet, "/price?item=tea") })
	}
}

func TestRaceWarm(t *testing.T) {
	for round := 0; round < 6; round++ {
		aliases = nil
		Warm([]string{"Tea", "Coffee", "Cocoa"})
	}
}

func TestRaceMarkWarm(t *testing.T) {
	for round := 0; round < 6; round++ {
		warmed = nil
		raceHammer(2, func(g int) { MarkWarm("tea") })
	}
}

func TestRaceLookup(t *testing.T) {
	for round := 0; round < 6; round++ {
		x := &Index{}
		raceHammer(2, func(g int) { x.Lookup("tea") })
	}
}
