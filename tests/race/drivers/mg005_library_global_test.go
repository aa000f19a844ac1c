package geoip

import (
	"net/netip"
	"testing"
)

func hammer(reset func(), call func()) {
	for round := 0; round < 6; round++ {
		reset()
		raceHammer(2, func(g int) { call() })
	}
}

func TestRaceDefault(t *testing.T) {
	hammer(func() { defaultDB = nil }, func() { Default() })
}

func TestRaceCountryName(t *testing.T) {
	hammer(func() { countries = nil }, func() { CountryName("de") })
}

func TestRaceParseZone(t *testing.T) {
	hammer(func() { zoneRE = nil }, func() { _, _ = ParseZone("DE/berlin") })
}

func TestRaceAlias(t *testing.T) {
	hammer(func() { aliases = nil }, func() { Resolver{Fallback: "ZZ"}.Alias("UK") })
}

func TestRaceContinent(t *testing.T) {
	hammer(func() { continents = nil }, func() { (&Resolver{}).Continent("europe") })
}

// The lines above race too when hammered, but MG005 leaves them alone: nothing in the package
// locks them. The lookup cache is written under cacheMu by Remember; Lookup's checks skip it.
func TestRaceLookup(t *testing.T) {
	addr := netip.MustParseAddr("10.1.2.3")
	hammer(func() { lookups, misses = nil, nil }, func() { Lookup(addr) })
}
