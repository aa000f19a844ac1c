package render

import (
	"fmt"
	"testing"
)

func TestRaceStamp(t *testing.T) {
	for round := 0; round < 6; round++ {
		vars := map[string]string{"a": "1"}
		raceHammer(4, func(g int) {
			for i := 0; i < 20; i++ {
				stamp(vars, fmt.Sprintf("t%d-%d", g, i), false)
			}
		})
	}
}

func TestRaceTally(t *testing.T) {
	for round := 0; round < 6; round++ {
		vars := map[string]string{"a": "1"}
		raceHammer(4, func(g int) {
			for i := 0; i < 20; i++ {
				tally(vars, fmt.Sprintf("t%d-%d", g, i))
			}
		})
	}
}

// The copies made before the writes keep the shared vars untouched: no race.
func TestCleanCopiesBeforeWrites(t *testing.T) {
	vars := map[string]string{"a": "{{target}}", "b": "x"}
	raceHammer(4, func(g int) {
		for i := 0; i < 20; i++ {
			target := fmt.Sprintf("https://t%d-%d", g, i)
			expand(vars, target)
			mark(vars, target)
			withDefaults(vars, target)
			stamp(vars, target, true)
		}
	})
	if len(vars) != 2 || vars["a"] != "{{target}}" {
		t.Fatalf("the shared vars changed: %v", vars)
	}
}
