package ttlcache

import (
	"strconv"
	"testing"
	"time"
)

func TestRaceJanitor(t *testing.T) {
	c := New()
	stop := make(chan struct{})
	c.Start(time.Millisecond, stop)
	deadline := time.Now().Add(150 * time.Millisecond)
	for i := 0; time.Now().Before(deadline); i++ {
		k := strconv.Itoa(i % 16)
		c.Set(k, "v", time.Microsecond)
		c.Get(k)
		c.Evicted()
		time.Sleep(100 * time.Microsecond)
	}
	close(stop)
}

// The jobs are sent once the workers are parked on the channel, so they go to the workers in
// turn. (From a pre-filled buffer, whichever worker runs first tends to drain it alone.)
func TestRaceWorkers(t *testing.T) {
	for round := 0; round < 4; round++ {
		progress = map[int]int{}
		jobs := make(chan Job)
		go func() {
			time.Sleep(2 * time.Millisecond)
			for i := 0; i < 40; i++ {
				jobs <- Job{Key: strconv.Itoa(i), Value: "v"}
			}
			close(jobs)
		}()
		Refresh(New(), jobs, 4)
	}
}

func TestRaceSyncAll(t *testing.T) {
	NewSyncer().SyncAll([]string{"a", "b", "c", "d", "e", "f"})
}

func TestRaceCountWords(t *testing.T) {
	doc := []string{"the", "map", "is", "a", "pointer"}
	CountWords([][]string{doc, doc, doc, doc})
}
