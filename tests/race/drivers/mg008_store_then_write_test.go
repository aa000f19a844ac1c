package snapshot

import (
	"testing"
	"time"
)

// The reader keeps loading what the writer publishes; the writer publishes and then writes
// what it published. Nothing orders the reader's reads after those writes.
func readWhile(read func(t *Tables), write func(t *Tables)) {
	readEvery(0, 300, 10, read, write)
}

// readEvery reads `reads` times with a pause in between while the writer runs `writes` times.
// A reader that spins always meets a fresh map before the writer's second write to it, so
// the detector names the first write only; a pausing reader meets maps at random points.
func readEvery(pause time.Duration, reads, writes int, read func(t *Tables), write func(t *Tables)) {
	for round := 0; round < 8; round++ {
		tables := &Tables{}
		raceHammer(2, func(g int) {
			if g == 0 {
				for i := 0; i < reads; i++ {
					read(tables)
					if pause > 0 {
						time.Sleep(pause)
					}
				}
				return
			}
			for i := 0; i < writes; i++ {
				write(tables)
			}
		})
	}
}

func TestRacePublishCounts(t *testing.T) {
	readWhile(func(t *Tables) { t.Count("_published") },
		func(t *Tables) { t.PublishCounts(map[string]int{"a": 1}) })
}

func TestRacePublishWords(t *testing.T) {
	readWhile(func(t *Tables) { t.Known("map") },
		func(t *Tables) { t.PublishWords([]string{"Map", "", "Race"}) })
}

func TestRacePublishWordsSlowReader(t *testing.T) {
	readEvery(20*time.Microsecond, 20, 400, func(t *Tables) { t.Known("map") },
		func(t *Tables) { t.PublishWords([]string{"Map", "", "Race"}) })
}

func TestRaceInit(t *testing.T) {
	readWhile(func(*Tables) { Lookup("k") }, func(*Tables) { Init("k", "v", "x", "y") })
}

func TestRaceRebuild(t *testing.T) {
	readWhile(func(t *Tables) { t.Count("a") }, func(t *Tables) { t.Rebuild([]string{"a", "b"}) })
}
