package prefs

import "testing"

func TestCleanSyncMapCopyOnWrite(t *testing.T) {
	raceHammer(4, func(g int) {
		for i := 0; i < 5; i++ {
			if g%2 == 0 {
				Get("ann", "theme")
				Version("ann")
				Export()
				continue
			}
			Set("ann", "theme", "dark")
			Set("ann", "lang", "de")
			Unset("ann", "lang")
		}
	})
}
