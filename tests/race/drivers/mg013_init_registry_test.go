package jobs

import "testing"

// A reload enables plugins while callers walk the map Plugins handed out.
func TestRacePlugins(t *testing.T) {
	raceHammer(2, func(g int) {
		for i := 0; i < 50; i++ {
			if g == 0 {
				Reload([]string{"a", "b", "c"})
				continue
			}
			for range Plugins() {
			}
		}
	})
}

// Another package's AddHook at run time writes the map Hooks handed out.
func TestRaceHooks(t *testing.T) {
	raceHammer(2, func(g int) {
		for i := 0; i < 50; i++ {
			if g == 0 {
				AddHook("request")
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
