// race-package: cmd/flags
package main

import "testing"

// Readers look a flag up while writers change flags, on a fresh published map per round.
func hammerFlags(write func(g int)) {
	for round := 0; round < 8; round++ {
		flags.Store(&map[string]string{"search": "on", "beta": "off"})
		raceHammer(4, func(g int) {
			if g%2 == 0 {
				_ = lookup("search")
				return
			}
			write(g)
		})
	}
}

func TestRacePut(t *testing.T) {
	hammerFlags(func(g int) { enable("beta") })
}

func TestRaceDrop(t *testing.T) {
	hammerFlags(func(g int) { disable("beta") })
}

func TestCleanCopyOnWrite(t *testing.T) {
	hammerFlags(func(g int) { enableCopy("beta") })
}
