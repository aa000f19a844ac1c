package warm

import (
	"strings"
	"testing"
	"time"
)

// Two Counts in turn: the second takes the lock the first goroutine released before writing,
// so the two goroutines' writes are ordered by nothing.
func TestRaceCountAfterEarlyUnlock(t *testing.T) {
	stats = map[string]int{}
	Count([]string{"a"})
	Count([]string{"b"})
	// Nothing synchronises with the goroutines' writes: poll until both are seen.
	for deadline := time.Now().Add(30 * time.Second); Stats("a") != 1 || Stats("b") != 1; {
		if time.Now().After(deadline) {
			t.Fatal("the counting goroutines did not finish")
		}
		time.Sleep(time.Millisecond)
	}
}

// Warm's goroutine writes under the lock its starter took; Lookup waits for it.
func TestCleanWarmHandsItsLockOn(t *testing.T) {
	names := []string{"api", "db", "cache", "queue"}
	Warm(names)
	raceHammer(4, func(g int) {
		for _, name := range names {
			if got := Lookup(name); got != strings.ToUpper(name) {
				t.Errorf("Lookup(%q) = %q, want %q", name, got, strings.ToUpper(name))
			}
		}
	})
}
