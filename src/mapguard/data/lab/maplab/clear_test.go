package maplab

import (
	"fmt"
	"testing"
)

var holderSink *Holder

// BenchmarkRefill: a long-lived map emptied and filled again to the same size, every op, by
// re-creating it, by clear, or by the delete-every-key loop. Timing starts at steady state:
// the map has been through two refills already.
func BenchmarkRefill(b *testing.B) {
	strategies := []struct {
		name   string
		refill func(*Holder, int)
	}{{"make", RefillByMake}, {"clear", RefillByClear}, {"deleteloop", RefillByDeleteLoop}}
	for _, n := range refillSizes {
		for _, s := range inRoundOrder(strategies) {
			b.Run(fmt.Sprintf("strategy=%s/size=%d", s.name, n), func(b *testing.B) {
				h := &Holder{M: make(map[int]int)}
				holderSink = h
				s.refill(h, n)
				s.refill(h, n)
				p := startProbe(b)
				for i := 0; i < b.N; i++ {
					s.refill(h, n)
				}
				p.stop()
			})
		}
	}
}

// BenchmarkClearEmptied: clear and refill 16 entries, in a map that never held more than 16,
// and in one that once held many: a map keeps its capacity, and clear walks all of it.
func BenchmarkClearEmptied(b *testing.B) {
	for _, capacity := range inRoundOrder([]int{16, emptiedCapacity}) {
		b.Run(fmt.Sprintf("capacity=%d/len=16", capacity), func(b *testing.B) {
			m := make(map[int]int)
			fill(m, capacity)
			clear(m)
			fill(m, 16)
			p := startProbe(b)
			for i := 0; i < b.N; i++ {
				ClearByBuiltin(m)
				fill(m, 16)
			}
			p.stop()
		})
	}
}
