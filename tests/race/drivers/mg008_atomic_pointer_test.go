package edgeroutes

import "testing"

// One goroutine reads the published tables lock-free while the other runs one in-place
// writer; a fresh router per round gives every write its own chance to be named.
func readWhile(write func(r *Router)) {
	for round := 0; round < 8; round++ {
		r := New()
		r.Add("a.example", "10.0.0.1")
		raceHammer(2, func(g int) {
			for i := 0; i < 3; i++ {
				if g == 0 {
					r.Backend("a.example")
					r.Hits("a.example")
				} else {
					write(r)
				}
			}
		})
	}
}

func TestRaceAdd(t *testing.T) { readWhile(func(r *Router) { r.Add("b.example", "10.0.0.2") }) }

func TestRaceRemove(t *testing.T) { readWhile(func(r *Router) { r.Remove("a.example") }) }

func TestRaceHit(t *testing.T) { readWhile(func(r *Router) { r.Hit("a.example") }) }

func TestRaceResetHits(t *testing.T) { readWhile(func(r *Router) { r.ResetHits() }) }

// Two renames race each other. The detector keeps a goroutine's first write to the map between
// two synchronisation points, so it names the first write of Rename; the delete behind it is
// the same unsynchronised write (see HIDDEN_BEHIND in tests/race/test_race_proof.py).
func TestRaceRename(t *testing.T) {
	for round := 0; round < 8; round++ {
		r := New()
		r.Add("a.example", "10.0.0.1")
		raceHammer(2, func(g int) { r.Rename("a.example", "c.example") })
	}
}

func TestRaceWeigh(t *testing.T) {
	readWhile(func(r *Router) { r.Weigh(map[string]int{"a.example": 2}) })
}
