package fanout

import (
	"sync"
	"testing"
)

func TestRaceResolveAll(t *testing.T) {
	for round := 0; round < 6; round++ {
		shared = nil
		b := &Batch{names: []string{"api", "db", "cache"}}
		b.ResolveAll()
	}
}

func TestRaceRefresher(t *testing.T) {
	for round := 0; round < 6; round++ {
		var done sync.WaitGroup
		f := &Refresher{}
		f.Start(3, []string{"api", "db"}, &done)
		done.Wait()
	}
}
