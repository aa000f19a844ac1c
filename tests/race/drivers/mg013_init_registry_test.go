package jobs

import (
	"runtime"
	"strconv"
	"testing"
)

// Reloads enable new plugins while callers walk the map Plugins handed out. Many passes with
// new keys each, and every goroutine yields after each step: on a loaded machine one goroutine
// could otherwise run all its passes before the other starts, and the mutex then orders every
// write before every walk (no race seen in 4 of 30 runs; with the yields, 30 of 30). A yield
// is no synchronisation for the race detector.
func TestRacePlugins(t *testing.T) {
	raceHammer(4, func(g int) {
		for i := 0; i < 500; i++ {
			if g%2 == 0 {
				Reload([]string{strconv.Itoa(g*1000 + i)})
				runtime.Gosched()
				continue
			}
			for range Plugins() {
				runtime.Gosched()
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
				runtime.Gosched()
				continue
			}
			for range Hooks() {
				runtime.Gosched()
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
