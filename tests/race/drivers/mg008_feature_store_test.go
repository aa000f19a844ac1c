package features

import "testing"

func readWhile(write func(s *Store)) {
	for round := 0; round < 8; round++ {
		s := NewStore(Set{"beta": true, "dark-mode": false})
		raceHammer(2, func(g int) {
			for i := 0; i < 3; i++ {
				if g == 0 {
					s.On("beta")
				} else {
					write(s)
				}
			}
		})
	}
}

func TestRaceEnable(t *testing.T) { readWhile(func(s *Store) { s.Enable("dark-mode") }) }

func TestRaceDisable(t *testing.T) { readWhile(func(s *Store) { s.Disable("beta") }) }

func TestRaceToggle(t *testing.T) { readWhile(func(s *Store) { s.Toggle("beta", "dark-mode") }) }

func TestRaceForget(t *testing.T) { readWhile(func(s *Store) { s.Forget("beta") }) }
