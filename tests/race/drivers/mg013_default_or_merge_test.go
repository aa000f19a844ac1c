package schedargs

import "testing"

// Two plugins defaulted at once: both get the shared default weights and both write "gpu" into
// them.
func TestRaceSetDefaults(t *testing.T) {
	raceHammer(2, func(g int) {
		for i := 0; i < 100; i++ {
			SetDefaults(&Args{})
		}
	})
}
