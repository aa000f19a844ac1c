package index

import "testing"

// Canonical is left out on purpose: its unexported lazy init of a package map is racy, but
// outside MG005 (only exported functions are library entry points for rule (c)).
func TestCleanLocals(t *testing.T) {
	items := []Item{{Name: "a", Tags: []string{"x", "y"}}, {Name: "b", Tags: []string{"y"}}}
	raceHammer(4, func(g int) {
		idx := Build(items)
		idx.Tags()
		Merge(nil, idx)
		Normalize([]string{"A", "B"})
	})
}
