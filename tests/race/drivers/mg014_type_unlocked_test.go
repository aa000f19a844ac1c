package flagstore

import "testing"

// The unlocked method runs while another goroutine uses the locked writers: a fresh value per
// round, one goroutine each.

func TestRaceResetWhileEnabling(t *testing.T) {
	for round := 0; round < 8; round++ {
		s := NewStore()
		s.Enable("dark-mode", "ui")
		raceHammer(2, func(g int) {
			if g == 0 {
				s.Reset()
				return
			}
			for i := 0; i < 4; i++ {
				s.Enable("search-v2", "search")
			}
		})
	}
}

func TestRaceImportWhileDisabling(t *testing.T) {
	snapshot := map[string]bool{"dark-mode": true, "search-v2": false}
	for round := 0; round < 8; round++ {
		s := NewStore()
		raceHammer(2, func(g int) {
			if g == 0 {
				s.Import(snapshot)
				return
			}
			for i := 0; i < 4; i++ {
				s.Disable("beta-banner")
			}
		})
	}
}

func TestRaceSetStateWhileFinishing(t *testing.T) {
	for round := 0; round < 8; round++ {
		r := NewRollouts()
		r.Begin("rollout-1")
		raceHammer(2, func(g int) {
			if g == 0 {
				r.SetState("rollout-1", "failed")
				return
			}
			for i := 0; i < 4; i++ {
				r.Finish("rollout-2")
			}
		})
	}
}

func TestRaceResetStartsWhileBeginning(t *testing.T) {
	for round := 0; round < 8; round++ {
		r := NewRollouts()
		r.Begin("rollout-1")
		raceHammer(2, func(g int) {
			if g == 0 {
				r.ResetStarts("rollout-1")
				return
			}
			for i := 0; i < 4; i++ {
				r.Begin("rollout-2")
			}
		})
	}
}
