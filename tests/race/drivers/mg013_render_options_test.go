package render

import "testing"

func concurrently(call func(r *Renderer)) {
	for round := 0; round < 8; round++ {
		r := New()
		defaultTags = map[string]bool{"web": true}
		defaultCounts = map[string]int{}
		raceHammer(2, func(g int) { call(r) })
	}
}

func TestRacePage(t *testing.T) { concurrently(func(r *Renderer) { r.Page("home") }) }

func TestRaceLink(t *testing.T) { concurrently(func(r *Renderer) { r.Link("2") }) }

func TestRaceFresh(t *testing.T) { concurrently(func(r *Renderer) { r.Fresh() }) }

func TestRaceTrack(t *testing.T) { concurrently(func(r *Renderer) { Track("view", "mobile") }) }

func TestRaceWeigh(t *testing.T) { concurrently(func(r *Renderer) { Weigh("view", 2) }) }
