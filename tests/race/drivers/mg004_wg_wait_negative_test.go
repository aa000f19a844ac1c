package pipeline

import "testing"

func TestCleanPipelines(t *testing.T) {
	docs := []Doc{{ID: 1, Words: []string{"map", "race"}}, {ID: 2, Words: []string{"map"}}}
	words := []string{"alpha", "beta", "gamma", "delta", "alpha"}
	raceHammer(4, func(g int) {
		BuildIndex(docs)
		Lengths(words)
		Collect([][]string{words, words, words})
		Summarize(words)
		Shard(words, 3)
	})
}
