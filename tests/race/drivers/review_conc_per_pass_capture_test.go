package executor

import (
	"fmt"
	"testing"
)

func testCalls(n int) []*Call {
	calls := make([]*Call, n)
	for i := range calls {
		calls[i] = &Call{Task: fmt.Sprint("task", i)}
	}
	return calls
}

// Every goroutine of Run and Tag has its own call (Go 1.22 loop variables).
func TestCleanPerPassCalls(t *testing.T) {
	e := &Executor{Defaults: map[string]string{"a": "1", "b": "2", "c": "3"}}
	for round := 0; round < 4; round++ {
		calls := testCalls(16)
		e.Run(calls)
		Tag(calls, "t")
		for _, c := range calls {
			if c.Vars["a"] != "1" || c.Vars["tag"] != "t" {
				t.Fatalf("%s: vars %v", c.Task, c.Vars)
			}
		}
	}
}

// Every round's goroutines write the same calls' maps.
func TestRaceStampRounds(t *testing.T) {
	calls := testCalls(2)
	for _, c := range calls {
		c.Vars = map[string]string{}
	}
	Stamp(calls, []string{"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"})
}
