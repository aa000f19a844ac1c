package metrics

import "testing"

func hammer(reset func(), call func()) {
	for round := 0; round < 6; round++ {
		reset()
		raceHammer(2, func(g int) { call() })
	}
}

func TestRaceDefaultRegistry(t *testing.T) {
	hammer(func() { defaultRegistry = nil }, func() { DefaultRegistry() })
}

func TestRaceDefBuckets(t *testing.T) {
	hammer(func() { buckets = nil }, func() { DefBuckets() })
}

func TestRaceHostname(t *testing.T) {
	hammer(func() { hostname = nil }, func() { Hostname() })
}

func TestRaceCounter(t *testing.T) {
	var r *Registry
	hammer(func() { r = &Registry{} }, func() { r.Counter("requests_total").Inc() })
}

func TestRaceHelp(t *testing.T) {
	var r *Registry
	hammer(func() { r = &Registry{} }, func() { r.Help("requests_total", "Requests served.") })
}
