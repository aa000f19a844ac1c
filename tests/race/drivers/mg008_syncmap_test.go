package sessionattrs

import "testing"

func readWhile(write func(user string)) {
	for round := 0; round < 8; round++ {
		Start("ann")
		raceHammer(2, func(g int) {
			for i := 0; i < 3; i++ {
				if g == 0 {
					Attr("ann", "theme")
					Visits("ann")
				} else {
					write("ann")
				}
			}
		})
	}
}

func TestRaceSetAttr(t *testing.T) { readWhile(func(u string) { SetAttr(u, "theme", "dark") }) }

func TestRaceVisit(t *testing.T) { readWhile(Visit) }

func TestRaceDropAttr(t *testing.T) { readWhile(func(u string) { DropAttr(u, "theme") }) }

func TestRaceLogout(t *testing.T) { readWhile(Logout) }
