package maplab

import (
	"fmt"
	"testing"
)

// requests are word lists of requestWords words each; different requests use different words.
func requests() ([][]string, []int) {
	var all [][]string
	var distinct []int
	for r := 0; r < 8; r++ {
		words := make([]string, requestWords)
		seen := map[string]bool{}
		for i := range words {
			words[i] = fmt.Sprintf("r%d-w%d", r, i%(requestWords/2))
			seen[words[i]] = true
		}
		all = append(all, words)
		distinct = append(distinct, len(seen))
	}
	return all, distinct
}

// BenchmarkRequestMap: one request's word counts, in a map made for the request, in a pooled
// map cleared before Put, or in a pooled map put back as it is. Besides the costs it reports
// how many entries the map already held when the request got it (a previous request's), and
// how often the request's result was wrong because of them.
func BenchmarkRequestMap(b *testing.B) {
	all, distinct := requests()
	strategies := []struct {
		name string
		run  func([]string) (int, int)
	}{
		{"per-request", func(w []string) (int, int) { return PerRequest(w), 0 }},
		{"pool-cleared", PooledCleared},
		{"pool-uncleared", PooledUncleared},
	}
	for _, s := range inRoundOrder(strategies) {
		b.Run(fmt.Sprintf("strategy=%s/words=%d", s.name, requestWords), func(b *testing.B) {
			for _, words := range all { // warm the pool
				s.run(words)
			}
			leaked, wrong := 0, 0
			p := startProbe(b)
			for i := 0; i < b.N; i++ {
				r := i % len(all)
				got, before := s.run(all[r])
				leaked += before
				if got != distinct[r] {
					wrong++
				}
			}
			p.stop()
			b.ReportMetric(float64(leaked)/float64(b.N), "leaked-entries/op")
			b.ReportMetric(float64(wrong)/float64(b.N), "wrong-results/op")
		})
	}
}
