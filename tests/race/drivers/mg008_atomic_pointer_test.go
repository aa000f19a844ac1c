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

// Two renames race each other: a report pairs one rename's first write with the other's
// delete, which a reader alone would never see behind the first write.
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
