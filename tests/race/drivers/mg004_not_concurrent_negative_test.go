package plugins

import "testing"

func TestCleanWarm(t *testing.T) {
	got := make(chan map[string]int, 8)
	raceHammer(4, func(g int) {
		Warm([]string{"a", "bb", "ccc"}, func(m map[string]int) { got <- m })
	})
	for i := 0; i < 4; i++ {
		if m := <-got; m["ccc"] != 3 {
			t.Fatalf("sizes = %v", m)
		}
	}
}
