package mg004_flag_branch

import (
	"fmt"
	"testing"
)

func names() []string {
	out := make([]string, 8)
	for i := range out {
		out[i] = fmt.Sprintf("s%d", i%3)
	}
	return out
}

func reset() {
	failed, skipped, retried = map[string]int{}, map[string]int{}, map[string]int{}
}

// The goroutines started with the flag set all take the lock.
func TestCleanFlaggedGoroutines(t *testing.T) {
	for round := 0; round < 8; round++ {
		reset()
		Run(names(), true)
		Run(names(), false)
		RunGuarded(names(), true)
		RunGuarded(names(), false)
		RetryAll(names())
	}
}

// Sweep's goroutines pass false: retry's unlocked branch runs in all of them.
func TestRaceSweep(t *testing.T) {
	for round := 0; round < 8; round++ {
		reset()
		Sweep(names())
	}
}
