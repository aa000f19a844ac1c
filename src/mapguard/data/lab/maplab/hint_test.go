package maplab

import (
	"fmt"
	"testing"
)

// BenchmarkFill: a new map filled with n entries, made with and without a size hint.
func BenchmarkFill(b *testing.B) {
	for _, n := range hintSizes {
		for _, c := range inRoundOrder([]struct {
			name string
			fill func(int) map[int]int
		}{{"none", FillWithoutHint}, {"exact", FillWithHint}}) {
			b.Run(fmt.Sprintf("hint=%s/size=%d", c.name, n), func(b *testing.B) {
				p := startProbe(b)
				for i := 0; i < b.N; i++ {
					mapSink = c.fill(n)
				}
				p.stop()
			})
		}
	}
}
