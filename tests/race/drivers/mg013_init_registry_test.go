package jobs

import (
	"strconv"
	"testing"
)

// Reloads enable new plugins while callers walk the map Plugins handed out. Many passes with
// new keys each: the reader's walk and the writer's insert overlap even on a loaded machine.
func TestRacePlugins(t *testing.T) {
	raceHammer(4, func(g int) {
		for i := 0; i < 500; i++ {
			if g%2 == 0 {
				Reload([]string{strconv.Itoa(g*1000 + i)})
				continue
			}
			for range Plugins() {
			}
		}
	})
}

// Another package's AddHook at run time writes the map Hooks handed out.
func TestRaceHooks(t *testing.T) {
	raceHammer(4, func(g int) {
		for i := 0; i < 500; i++ {
			if g%2 == 0 {
				AddHook(strconv.Itoa(g*1000 + i))
				continue
			}
			for range Hooks() {
			}
		}
	})
}

// The registry filled by init is only read after main starts.
func TestCleanList(t *testing.T) {
	raceHammer(4, func(g int) {
		for i := 0; i < 50; i++ {
			for range List() {
			}
		}
	})
}
