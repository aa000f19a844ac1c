package wordcount

import (
	"fmt"
	"testing"
)

func lines(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("alpha beta gamma w%d w%d", i%7, i%5)
	}
	return out
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Key-%d", i)
	}
	return out
}

func TestRaceCountWords(t *testing.T) {
	for round := 0; round < 4; round++ {
		CountWords(lines(64))
	}
}

func TestRaceSeen(t *testing.T) {
	for round := 0; round < 4; round++ {
		Seen(keys(64))
	}
}

func TestCleanOneAtATime(t *testing.T) {
	if got := len(OneAtATime(keys(32))); got != 32 {
		t.Fatalf("got %d keys", got)
	}
}

func TestCleanPerPass(t *testing.T) {
	for _, m := range PerPass(keys(32)) {
		if len(m) != 1 {
			t.Fatalf("got %d keys", len(m))
		}
	}
}

func TestCleanGuarded(t *testing.T) {
	if got := len(Guarded(keys(32))); got != 32 {
		t.Fatalf("got %d keys", got)
	}
}
