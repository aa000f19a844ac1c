package dnscache

import "testing"

func hammerResolver(call func(r *Resolver)) {
	for round := 0; round < 6; round++ {
		r := &Resolver{search: []string{"svc", "cluster"}}
		raceHammer(2, func(g int) { call(r) })
	}
}

func TestRaceLookup(t *testing.T) { hammerResolver(func(r *Resolver) { r.Lookup("example.com") }) }

func TestRaceFailed(t *testing.T) { hammerResolver(func(r *Resolver) { r.Failed("bad.example") }) }

func TestRaceDial(t *testing.T) { hammerResolver(func(r *Resolver) { r.dial() }) }

func TestRaceRank(t *testing.T) { hammerResolver(func(r *Resolver) { r.Rank("svc") }) }

func TestRaceSearch(t *testing.T) {
	for round := 0; round < 6; round++ {
		r := &Resolver{}
		raceHammer(2, func(g int) { r.Search() })
	}
}

func hammerPool(call func(p *Pool)) {
	for round := 0; round < 6; round++ {
		p := &Pool{path: "/etc/resolv.pool"}
		raceHammer(2, func(g int) { call(p) })
	}
}

func TestRacePoolConfig(t *testing.T) { hammerPool(func(p *Pool) { _, _ = p.Config() }) }

func TestRacePoolConn(t *testing.T) { hammerPool(func(p *Pool) { p.Conn("10.0.0.1:53") }) }
