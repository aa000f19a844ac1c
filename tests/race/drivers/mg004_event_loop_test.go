package fetcher

import (
	"fmt"
	"testing"
)

// Stats reads the loop's requests table from other goroutines while the loop writes it.
func TestRaceStatsWhileNotifying(t *testing.T) {
	f := New()
	f.Start()
	defer f.Stop()
	raceHammer(4, func(g int) {
		for i := 0; i < 200; i++ {
			if g%2 == 0 {
				f.Notify(fmt.Sprintf("peer%d", g), fmt.Sprintf("hash%d", i))
				f.Drop(fmt.Sprintf("peer%d", g))
			} else {
				_ = f.Stats("peer0")
			}
		}
	})
}

// The loop deletes from the same table when a peer is dropped. Drops alone, many of them, so
// the delete is the only write racing with Stats (one drop against one read was named in only
// 27 of 30 runs).
func TestRaceStatsWhileDropping(t *testing.T) {
	f := New()
	f.Start()
	defer f.Stop()
	raceHammer(2, func(g int) {
		for i := 0; i < 200; i++ {
			if g == 0 {
				f.Drop("peer0")
			} else {
				_ = f.Stats("peer0")
			}
		}
	})
}

// Everything else goes through the loop's channels: clean.
func TestCleanLoopOwnsItsTables(t *testing.T) {
	f := New()
	f.Start()
	defer f.Stop()
	raceHammer(4, func(g int) {
		for i := 0; i < 200; i++ {
			f.Notify(fmt.Sprintf("peer%d", g), fmt.Sprintf("hash%d", i))
			if i%50 == 49 {
				f.Drop(fmt.Sprintf("peer%d", g))
			}
		}
	})
}
