package snapshot

import (
	"testing"
	"time"
)

// The reader keeps loading what the writer publishes; the writer publishes and then writes
// what it published. Nothing orders the reader's reads after those writes.
func readWhile(read func(t *Tables), write func(t *Tables)) {
	for round := 0; round < 8; round++ {
		tables := &Tables{}
		raceHammer(2, func(g int) {
			if g == 0 {
				for i := 0; i < 300; i++ {
					read(tables)
				}
				return
			}
			for i := 0; i < 10; i++ {
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

// The detector keeps a goroutine's first write to the map header between two synchronisation
// points, so PublishWords' second write is hidden behind its delete. Its element store is a
// memory location of its own: a reader that comes late (a sleep is no synchronisation) and
// reads that element meets it.
func TestRacePublishWordsLateReader(t *testing.T) {
	for round := 0; round < 4; round++ {
		tables := &Tables{}
		raceHammer(2, func(g int) {
			if g == 0 {
				tables.PublishWords([]string{"Map", "", "Race"})
				return
			}
			time.Sleep(time.Millisecond)
			tables.Known("_ready")
		})
	}
}

func TestRaceInit(t *testing.T) {
	readWhile(func(*Tables) { Lookup("k") }, func(*Tables) { Init("k", "v", "x", "y") })
}

func TestRaceRebuild(t *testing.T) {
	readWhile(func(t *Tables) { t.Count("a") }, func(t *Tables) { t.Rebuild([]string{"a", "b"}) })
}
