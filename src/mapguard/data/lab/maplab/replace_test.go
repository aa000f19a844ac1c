package maplab

import (
	"fmt"
	"testing"
)

var (
	mapSink   map[int]int
	countSink int
)

// BenchmarkReplace: a fresh map of n entries for the caller, every op, made through a pointer
// (*p = make), returned, reused with clear, or kept local to the function.
func BenchmarkReplace(b *testing.B) {
	for _, n := range replaceSizes {
		strategies := []struct {
			name string
			run  func(b *testing.B)
		}{
			{"pointer", func(b *testing.B) {
				var m map[int]int
				p := startProbe(b)
				for i := 0; i < b.N; i++ {
					ResetViaPointer(&m, n)
				}
				p.stop()
				mapSink = m
			}},
			{"return", func(b *testing.B) {
				h := &Holder{}
				holderSink = h
				p := startProbe(b)
				for i := 0; i < b.N; i++ {
					h.M = NewFilled(n)
				}
				p.stop()
			}},
			{"reuse", func(b *testing.B) {
				h := &Holder{M: make(map[int]int)}
				holderSink = h
				Refill(h.M, n)
				p := startProbe(b)
				for i := 0; i < b.N; i++ {
					Refill(h.M, n)
				}
				p.stop()
			}},
			{"local", func(b *testing.B) {
				p := startProbe(b)
				for i := 0; i < b.N; i++ {
					countSink = CountLocal(n)
				}
				p.stop()
			}},
		}
		for _, s := range inRoundOrder(strategies) {
			b.Run(fmt.Sprintf("strategy=%s/size=%d", s.name, n), s.run)
		}
	}
}
