package task

import "testing"

// Fresh tasks labelled from two goroutines: both can see nil and both make the map.
func TestRaceLabel(t *testing.T) {
	for round := 0; round < 20; round++ {
		task := &Task{}
		raceHammer(2, func(g int) { task.Label("k", "v") })
	}
}
