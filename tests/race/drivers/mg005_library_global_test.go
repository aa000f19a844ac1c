package geoip

import "testing"

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
