package maplab

import (
	"flag"
	"slices"
)

// mapguard lab passes -maplab.reverse on every other round. The ways compared at one parameter
// then run in the opposite order, so no way always runs right after a heavier one: the one run
// first paid a few percent more CPU time than the same code run second (clear 3 % above the
// delete loop after re-creating, 3 % below with the order reversed, 10 rounds each), a steady
// difference that identical code must not show.
var reversed = flag.Bool("maplab.reverse", false,
	"run the ways compared at each parameter in reverse order")

// inRoundOrder returns the ways in the order of this round.
func inRoundOrder[T any](ways []T) []T {
	if !*reversed {
		return ways
	}
	order := slices.Clone(ways)
	slices.Reverse(order)
	return order
}
