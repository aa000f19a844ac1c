package seriesstore

import "testing"

// One goroutine writes through the owner (under its lock) while the other reads the map the
// getter handed out (after the getter's lock was released). The detector names the owner's
// write; the hand-out the rule reports is the getter's return (HANDED_OUT in
// tests/race/test_race_proof.py ties the two).
func readWhileWriting(write func(i int), read func() int) {
	raceHammer(2, func(g int) {
		for i := 0; i < 20; i++ {
			if g == 0 {
				write(i)
			} else {
				_ = read()
			}
		}
	})
}

func sum[K comparable, V any](m map[K]V) int {
	n := 0
	for range m {
		n++
	}
	return n
}

func TestRaceLabels(t *testing.T) {
	for round := 0; round < 8; round++ {
		s := NewSeries()
		readWhileWriting(func(i int) { s.SetLabel("k", "v") }, func() int { return sum(s.Labels()) })
	}
}

func TestRacePoints(t *testing.T) {
	for round := 0; round < 8; round++ {
		s := NewSeries()
		readWhileWriting(func(i int) { s.Add(1, 1) }, func() int { return sum(s.Points()) })
	}
}

func TestRaceTerms(t *testing.T) {
	for round := 0; round < 8; round++ {
		x := NewIndex()
		readWhileWriting(func(i int) { x.Observe("go") }, func() int { return sum(x.Terms()) })
	}
}

func TestRaceHandlers(t *testing.T) {
	for round := 0; round < 8; round++ {
		handlers = map[string]string{}
		readWhileWriting(func(i int) { Register("a", "b") }, func() int { return sum(Handlers()) })
	}
}

func TestRaceStats(t *testing.T) {
	for round := 0; round < 8; round++ {
		s := NewSeries()
		readWhileWriting(func(i int) { s.SetLabel("k", "v") },
			func() int { return sum(s.Stats().Labels) })
	}
}

func TestRaceLookup(t *testing.T) {
	for round := 0; round < 8; round++ {
		s := NewSeries()
		readWhileWriting(func(i int) { s.Add(1, 1) }, func() int {
			points, _ := s.Lookup()
			return sum(points)
		})
	}
}

func TestCleanCopied(t *testing.T) {
	s := NewSeries()
	readWhileWriting(func(i int) { s.SetLabel("k", "v"); s.Add(1, 1) }, func() int {
		c := s.Copied()
		return sum(c.Labels) + sum(c.Points)
	})
}
